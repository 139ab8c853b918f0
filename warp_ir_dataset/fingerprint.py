"""Structural fingerprints of kernel sources.

Two kernels share a fingerprint when their token sequences are equal once identifiers (names of
variables, arguments, functions, structs, fields) are renamed in order of
first appearance and literals are blanked to their kind (int, float, bool, string). Warp builtins
and types (``wp.<name>``), keyword arguments' names and Python keywords stay: they are structure.
Comments, blank lines, spacing, trailing commas and line breaks inside brackets do not count;
indentation does.

What it guarantees: a literal's placeholder is a character no identifier can contain (``"`` for a
string, ``?`` for a bool, ``#`` for an int, ``$`` for a float), so a literal never reads as a name:
``x = True`` and ``x = B`` differ, as do ``f("a", "b")`` and ``f(y, y)``, and a variable named
``S``, ``B``, ``I`` or ``F`` is renamed like any other. Generators up to 5 used those letters and
numbered strings and bools as identifiers, which confused both pairs.

The fingerprint reads the text with regular expressions and never parses it (generators up to 4
hashed the parsed AST, which with its parse cost about three times as much per kernel). On generated
kernels the two agree: equal token fingerprints exactly when the ASTs are equal (tested). On
hand-written code a redundant pair of parentheses makes two otherwise equal kernels differ.
"""
from __future__ import annotations

import hashlib
import keyword
import re

# Strings (group 1), comments and backslash line continuations; the size budget drops them too.
COMMENTS_AND_STRINGS = re.compile(
    r'("""[\s\S]*?"""' r"|'''[\s\S]*?'''" r'|"(?:[^"\\\n]|\\.)*"' r"|'(?:[^'\\\n]|\\.)*')" r"|#[^\n]*|\\\n"
)
_BLANK_LINE = re.compile(r"\n[ \t]*(?=\n)")
# A trailing comma, or a line break inside brackets (after an opening bracket or a comma, or
# before a closing one)
_BREAK_IN_BRACKETS = re.compile(r"(,[ \t\n]*(?=[)\]}]))|([(\[{,])[ \t]*\n[ \t\n]*|\n[ \t\n]*(?=[)\]}])")
# Patterns start with what they match (a literal, or a lookahead for its first character) and
# only then look behind: the engine finds the candidates fast and checks the rest there.
_WP_DOT = re.compile(r"wp(?<!\wwp)[ \t]*\.[ \t]*")
_KEPT = "|".join(sorted(set(keyword.kwlist) - {"True", "False", "None"} | {"wp", "None"}, key=len, reverse=True))
# ``wp.`` becomes ``wp\x01``, so the name after it does not read as an identifier (a name after
# that, as in ``wp.types.vector``, does: as in the AST, only ``wp``'s own attributes are kept).
_IDENTIFIER = re.compile(r"(?=[A-Za-z_])(?<![\w\x01])(?!(?:%s|True|False)\b)([A-Za-z_]\w*)" % _KEPT)
_NAME_BEFORE_EQUALS = re.compile(r"([(,][ \t]*)([A-Za-z_]\w*)(?=[ \t]*=(?!=))")
_BOOL = re.compile(r"True(?<!\wTrue)\b|False(?<!\wFalse)\b")
_FLOAT = re.compile(r"(?=[\d.])(?<![\w\x01])(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*|\d[\d_]*(?=[eE]))(?:[eE][+-]?\d+)?[jJ]?")
_INT = re.compile(r"(?=\d)(?<![\w\x01])(?:0[xXoObB][\da-fA-F_]+|\d[\d_]*)[jJ]?")
_SPACE_IN_LINE = re.compile(r"(?<=\S)[ \t]+")


# Placeholders of literals: characters that Python code outside strings and comments never holds
# (``#`` and ``"`` are gone with the comments and strings by then), so no identifier, keyword or
# operator can be mistaken for one.
STRING, BOOL, INT, FLOAT = '"', "?", "#", "$"


def _string_or_nothing(m: re.Match) -> str:
    return f" {STRING} " if m.group(1) else ""


def _after_break(m: re.Match) -> str:
    return "" if m.group(1) else (m.group(2) or "")


def _keyword_argument_kept(m: re.Match) -> str:
    """A keyword argument's name is structure (as in the AST), marked with \x01 so it is not
    renamed; a name before ``=`` in a tuple assignment or a parameter's default is not."""
    text = m.string
    line = text[text.rfind("\n", 0, m.start()) + 1:m.start() + 1]
    depth = line.count("(") + line.count("[") - line.count(")") - line.count("]")
    if depth <= 0 or (depth == 1 and line.lstrip().startswith("def")):
        return m.group()
    return m.group(1) + "\x01" + m.group(2)


def normalized(source: str) -> tuple[str, list[str]]:
    """The source's structure as text (identifiers replaced by ``v``, literals by their kind,
    formatting made uniform) and its identifiers in order, for :func:`fingerprint` to number."""
    text = COMMENTS_AND_STRINGS.sub(_string_or_nothing, source)
    text = _BREAK_IN_BRACKETS.sub(_after_break, _BLANK_LINE.sub("", text))
    text = _NAME_BEFORE_EQUALS.sub(_keyword_argument_kept, _WP_DOT.sub("wp\x01", text))
    pieces = _IDENTIFIER.split(text)
    text = _INT.sub(INT, _FLOAT.sub(FLOAT, _BOOL.sub(BOOL, "v".join(pieces[::2]))))
    # Spaces inside a line are dropped (the rest keeps the tokens apart: identifiers are all
    # ``v``, literals one placeholder character); indentation stays.
    return _SPACE_IN_LINE.sub("", text).strip(), pieces[1::2]


def fingerprint(source: str) -> str:
    """16 hex digits identifying the kernel's structure (see module docstring)."""
    text, names = normalized(source)
    number = {name: str(i) for i, name in enumerate(dict.fromkeys(names))}
    digest = hashlib.sha256(text.encode())
    digest.update(b"\0" + ",".join([number[name] for name in names]).encode())
    return digest.hexdigest()[:16]


def split_of(fp: str, test_share: int = 50) -> str:
    """``test`` for about 1 in ``test_share`` structures, else ``train``: by fingerprint, so a
    structure never appears in both splits."""
    return "test" if int(fp, 16) % test_share == 0 else "train"
