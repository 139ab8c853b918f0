"""A cheap, codegen-free estimate of how much C++ Warp generates for a kernel source, used to
keep generated kernels small.

Warp emits a few hundred bytes of forward + adjoint code per operation, copies the body of a
constant-range loop of up to 16 trips once per trip (it unrolls them), and emits the bodies of
Python-implemented builtins (``quat_to_euler`` ...) as helper functions once per kernel. The
estimate counts operations in the text (each statement, each bracket opened by a call or a
subscript, each operator) with unrolled loops multiplied out, times :data:`BYTES_PER_OP`, plus a
fixed size per heavy builtin. Over 400 generated kernels the real size (``forward + backward +
helper`` code, cpu) was 0.84-1.16 times the estimate from the 10th to the 90th percentile, 1.0 at
the median. It reads the text with regular expressions and never parses it: parsing cost more
than all the rest of drawing a kernel (generator 4 parsed, generator 5 does not).
"""
from __future__ import annotations

import re

from ..fingerprint import COMMENTS_AND_STRINGS

BYTES_PER_OP = 280
MAX_UNROLL = 16  # Warp's default ``max_unroll``

# Helper code (forward + adjoint) of builtins Warp implements as Python functions, in bytes.
HEAVY = {
    "quat_to_euler": 63000, "quat_from_euler": 25000, "transform_compose": 15000, "quat_to_rpy": 13000,
    "transform_to_matrix": 11000, "quat_twist": 5800, "norm_pseudo_huber": 5900, "transform_wrench": 5500,
    "transform_twist": 5500, "norm_l1": 4500, "quat_twist_angle": 4400, "quat_twist_angle_signed": 4200,
    "norm_huber": 4100, "transform_from_matrix": 4000, "transform_decompose": 23000, "smooth_normalize": 3700,
    "velocity_at_point": 2400, "norm_l2": 1400,
}
FORWARD_SHARE = 0.35  # forward code / (forward + backward), measured on simulation kernels

# (Lookahead or literal first, then the word boundary: the engine tries the rest only there.)
_OPERATOR = re.compile(r"\*\*|//|<<|>>|[-+*/%@&|^<>]=?|[=!]=|(?=[aoni])\b(?:and|or|not|if|is|in)\b")
_LINE_START = re.compile(r"\n[ \t]*(?=[^\s)\]}])")
_CONTINUED_LINE = re.compile(r"[(\[{,][ \t]*\n")
_COMPOUND = re.compile(r"\n[ \t]*(?:for|while|if|elif|else)\b")
# A top-level function or class with its decorators; ``body`` is what follows the signature.
_DEFINITION = re.compile(
    r"^(?:@[^\n]*\n)*(?:def|class)\b(?:[^:(]*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))?[^\n:]*(?:->[^\n:]*)?:"
    r"(?P<body>(?:\n(?:[ \t]*(?=\n)|[ \t]+[^\n]*))*)",
    re.M,
)
_CONSTANT_RANGE_LOOP = re.compile(
    r"^([ \t]*)for\b[^\n]*?\bin\s+range\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(-?\d+)\s*)?\)\s*:", re.M
)
_HEAVY_BUILTIN = re.compile(r"wp(?<!\wwp)\.(%s)\b" % "|".join(sorted(HEAVY, key=len, reverse=True)))
_MODULE_BACKWARD_OFF = re.compile(r"set_module_options\([^)]*[\"']enable_backward[\"']\s*:\s*False")
_KERNEL_BACKWARD_OFF = re.compile(r"enable_backward\s*=\s*False")


def _ops(code: str) -> int:
    """Operations in ``code``: one per statement (two more per compound header), per bracket
    opened (a call or a subscript) and per operator."""
    statements = len(_LINE_START.findall(code)) - len(_CONTINUED_LINE.findall(code))
    return (code.count("(") + code.count("[") + len(_OPERATOR.findall(code)) + statements
            + 2 * len(_COMPOUND.findall(code)))


def _unrolled_ops(code: str) -> int:
    """Operations Warp adds by unrolling constant-range loops: each such loop's body ``trips - 1``
    more times, times the trips of the unrolled loops around it."""
    loops = []
    for m in _CONSTANT_RANGE_LOOP.finditer(code):
        trips = len(range(*(int(v) for v in m.groups()[1:] if v is not None)))
        if not 1 < trips <= MAX_UNROLL:
            continue
        body = re.compile(r"(?:\n(?:[ \t]*(?=\n)|%s[ \t]+[^\n]*))*" % re.escape(m.group(1))).match(code, m.end())
        loops.append((m.start(), body.end(), trips, _ops(body.group())))
    extra = 0
    for start, end, trips, ops in loops:
        around = 1
        for outer_start, outer_end, outer_trips, _ in loops:
            if outer_start < start and end <= outer_end:
                around *= outer_trips
        extra += (trips - 1) * ops * around
    return extra


def _cost(code: str) -> int:
    return _ops(code) + (_unrolled_ops(code) if "range(" in code else 0)


def estimate(source: str) -> tuple[int, int]:
    """``(body, helpers)``: estimated bytes of code from the kernel's own operations and
    from the heavy builtins it calls."""
    code = COMMENTS_AND_STRINGS.sub("", source)
    helpers = sum(HEAVY[name] for name in set(_HEAVY_BUILTIN.findall(code)))
    if "enable_backward" not in source:
        return BYTES_PER_OP * _cost(code), helpers
    # Without the backward pass Warp emits about a third of the code: for every function when
    # the module turns it off (not for a kernel in a module="unique" of its own), for the kernel
    # alone when its decorator does. (Read on the source: the option's key is a string.)
    module_off = bool(_MODULE_BACKWARD_OFF.search(source))
    body, outside, last = 0.0, [], 0
    for m in _DEFINITION.finditer(code):
        head = code[m.start():m.start("body")]
        off = (module_off and "module=" not in head) or bool(_KERNEL_BACKWARD_OFF.search(head))
        body += _cost(m.group("body")) * (FORWARD_SHARE if off else 1.0)
        outside.append(code[last:m.start()])
        last = m.end()
    outside.append(code[last:])
    body += _cost("\n".join(outside))
    return int(BYTES_PER_OP * body), helpers


# A kernel is redrawn (from the same rng, so still deterministic) while its estimate is over
# these; after MAX_TRIES the smallest draw is kept.
BODY_LIMIT = 50_000
TOTAL_LIMIT = 80_000
MAX_TRIES = 6


def within_budget(fn, total: int | None = None):
    """``fn`` redrawn while over budget. A family's own ``total`` under TOTAL_LIMIT lowers the
    budget; above it (long kernels without a backward pass) it raises both limits to ``total``."""
    total = total or TOTAL_LIMIT
    body_limit = BODY_LIMIT if total <= TOTAL_LIMIT else total

    def generate(rng):
        best = None
        for _ in range(MAX_TRIES):
            k = fn(rng)
            body, helpers = estimate(k.python_source)
            if body <= min(body_limit, total) and body + helpers <= total:
                return k
            if best is None or body + helpers < best[0]:
                best = (body + helpers, k)
        return best[1]

    generate.__name__ = getattr(fn, "__name__", "generate")
    generate.__doc__ = fn.__doc__
    return generate
