"""Structural fingerprints of kernel sources.

Two kernels share a fingerprint when their Python ASTs are equal once identifiers (names of
variables, arguments, functions, structs, fields) are renamed in order of first appearance and
literal constants are blanked. Warp builtins (``wp.<name>``) and types stay: they are structure.
"""
from __future__ import annotations

import ast
import hashlib

from .syntax import parse


# Identifier fields renamed per node class; ``unless_wp``: an attribute of ``wp.`` is a builtin,
# hence structure, while any other attribute is a struct field.
_RENAMED = {
    ast.Name: {"id": "always"},
    ast.arg: {"arg": "always"},
    ast.FunctionDef: {"name": "always"},
    ast.ClassDef: {"name": "always"},
    ast.Attribute: {"attr": "unless_wp"},
}


def normalized_ast(source: str) -> str:
    """``ast.dump(tree, annotate_fields=False)`` of the source's AST with identifiers renamed
    ``v0, v1, ...`` in order of first appearance and each constant replaced by its type's name.

    One read-only pass over the shared parse (see :mod:`.syntax`), in ``ast.dump``'s field order,
    which is also the order in which identifiers first appear.
    """
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        if name == "wp":
            return name
        new = names.get(name)
        if new is None:
            new = names[name] = f"v{len(names)}"
        return new

    def fmt(node) -> str:
        if isinstance(node, ast.AST):
            cls = type(node)
            if cls is ast.Constant:
                return f"Constant({type(node.value).__name__!r})"
            if cls is ast.Name:  # the commonest node: formatted directly, not field by field
                return f"Name({rename(node.id)!r}, {type(node.ctx).__name__}())"
            renamed = _RENAMED.get(cls, {})
            parts = []
            keywords = False  # as in ast.dump: after a skipped optional field, fields are named
            for field in cls._fields:
                try:
                    value = getattr(node, field)
                except AttributeError:
                    keywords = True
                    continue
                if value is None and getattr(cls, field, ...) is None:
                    keywords = True
                    continue
                how = renamed.get(field)
                if how == "always" or (how == "unless_wp" and not (isinstance(node.value, ast.Name) and node.value.id == "wp")):
                    text = repr(rename(value))
                else:
                    text = fmt(value)
                parts.append(f"{field}={text}" if keywords else text)
            return f"{cls.__name__}({', '.join(parts)})"
        if isinstance(node, list):
            return "[" + ", ".join(fmt(item) for item in node) + "]"
        return repr(node)

    return fmt(parse(source))


def fingerprint(source: str) -> str:
    """16 hex digits identifying the kernel's structure (see module docstring)."""
    return hashlib.sha256(normalized_ast(source).encode()).hexdigest()[:16]


def split_of(fp: str, test_share: int = 50) -> str:
    """``test`` for about 1 in ``test_share`` structures, else ``train``: by fingerprint, so a
    structure never appears in both splits."""
    return "test" if int(fp, 16) % test_share == 0 else "train"
