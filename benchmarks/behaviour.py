#!/usr/bin/env python3
"""Do the executed rows' inputs catch wrong code? Measured on a built folder.

    ./dev python benchmarks/behaviour.py DIR --config cpu [--split train] [--rows 500] [--json]
    ./dev python benchmarks/behaviour.py DIR --config cpu --coverage-only    # the coverage alone (one launch a row)

For the executed rows of DIR/CONFIG (build it with ``--validate all`` so every row was tried):

* **executable share**, per family and in all: rows launched with finite outputs, over the rows
  tried (executed rows plus the rejects a launch caused: ``launch-*``, ``no-contract``);
* **determinism**: every row launched again (``run``'s replay, two launches each) gives the
  same bits as the first launch and as the row;
* **trivial kernels**: rows whose recorded outputs a kernel that does nothing, writes zeros, or
  copies an input of the same shape would match (computed from the rows, no launch);
* **coverage**: the share of the kernels' conditional blocks (an ``if``'s or ``elif``'s body, an
  ``else``, a loop's body) that at least one thread runs on the row's inputs (each block counts
  the threads that enter it, launched again with a count array added);
* **sensitivity**: for ``--rows`` rows, mutants of the kernel's Python source (an operator
  swapped, a constant changed, an index shifted, a statement dropped) whose generated code
  differs from the original's, launched on the row's recorded inputs: the share whose outputs
  (or gradients) differ from the recorded ones, or whose launch fails. A mutant the row's
  inputs miss is launched beside the original on ``FRESH_DRAWS`` other draws of inputs: those
  some draw tells apart count as *distinguishable*, and ``share_of_distinguishable`` is the share
  of those the row's inputs catch. A mutant no draw tells apart changes code whose value never
  reaches an output (Warp keeps dead code, so its generated code still differs): no input could
  catch it.
* **where the missed mutants sit** (``missed_sites``): the changed statement is launched again
  with a count of the threads that reach it; "never reached" is code behind a condition no
  thread meets on the row's inputs (a branch the generator made that never runs), "reached" a
  change in code that runs but that no output shows (absorbed, overwritten or unused); ``missed_boundary_swaps_alike_on_every_draw``
  counts the ``<``-for-``<=`` swaps no draw tells apart; ``share_if_every_block_ran`` estimates
  the share inputs that run every branch would give (the never-reached mutants caught as often as
  the reached ones of their kind and site).
* **where every mutant sits** (``by_site``, caught or not): straight-line code, a branch's
  body, a condition (an ``if``'s test, a ``wp.where``'s, a loop's range), a loop's body, a helper;
  each with the share caught, so a generator change is aimed at the code its misses sit in.
* **spread and families**: ``interval_95`` resamples rows (a row's mutants share its inputs) and
  ``by_family`` gives each family's share; ``--family NAME`` measures one family's rows alone, so a
  change to that family is measured where it acts.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warp_ir_dataset.codegen import kernel_row  # noqa: E402
from warp_ir_dataset.contract import Contract  # noqa: E402
from warp_ir_dataset.execute import DEFAULT_TIMEOUT, Failure, Request, in_batches, make_inputs, records_to_values, run_kernels, value_records  # noqa: E402
from warp_ir_dataset.generate import KernelSpec, source_id  # noqa: E402
from warp_ir_dataset.replay import differences, executed_rows, replay_request  # noqa: E402
from warp_ir_dataset.write import rejects_files  # noqa: E402

LAUNCH_REJECTS = ("launch-crashed", "launch-timeout", "launch-error", "no-contract", "clang-error")
MUTATIONS = ("operator", "constant", "index", "statement")
FRESH_DRAWS = 8  # draws of inputs that try to tell a surviving mutant from the original


def launch_all(requests: list, timeout: float = DEFAULT_TIMEOUT) -> list:
    """``run_kernels`` on every core: one share of the requests per core, each in a launching process of its own."""
    lanes = max(1, min(os.cpu_count() or 1, len(requests)))
    return in_batches(requests, lambda share: run_kernels(share, timeout), lanes, -(-len(requests) // lanes))


# -- mutants -------------------------------------------------------------------------------------
_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def _bodies(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _sites(tree: ast.Module, kind: str) -> list:
    sites = []
    for fn in _bodies(tree):
        for stmt in fn.body:
            for node in ast.walk(stmt):
                if kind == "operator" and isinstance(node, ast.BinOp) and type(node.op) in _SWAP:
                    sites.append(node)
                elif kind == "operator" and isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAP:
                    sites.append(node)
                elif kind == "constant" and isinstance(node, ast.Constant) and isinstance(node.value, float):
                    sites.append(node)
                elif kind == "index" and isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Name):
                    sites.append(node)
        if kind == "statement":
            for node in ast.walk(fn):
                for field in ("body", "orelse"):
                    block = getattr(node, field, None)
                    if isinstance(block, list) and len(block) > 1:
                        sites += [(block, k) for k, s in enumerate(block) if _droppable(s)]
    return sites


def _droppable(stmt) -> bool:
    """A statement whose removal leaves valid code: a store into an array, ``x op= ...``, a call."""
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        return True
    return isinstance(stmt, (ast.AugAssign, ast.Expr)) and not isinstance(getattr(stmt, "value", None), ast.Constant)


def mutant(source: str, kind: str, rng: random.Random) -> str | None:
    tree = ast.parse(source)
    sites = _sites(tree, kind)
    if not sites:
        return None
    site = rng.choice(sites)
    if kind == "operator":
        if isinstance(site, ast.BinOp):
            site.op = _SWAP[type(site.op)]()
        else:
            site.ops[0] = _SWAP[type(site.ops[0])]()
    elif kind == "constant":
        site.value = site.value * 1.5 + 0.25
    elif kind == "index":
        site.slice = ast.BinOp(ast.Name(site.slice.id, ast.Load()), ast.Add(), ast.Constant(1))
    else:
        block, k = site
        del block[k]
    return ast.unparse(ast.fix_missing_locations(tree))


def boundary_swap(original: str, mutated: str) -> bool:
    """Whether ``mutated`` differs from ``original`` only by a comparison's boundary (``<`` for
    ``<=``, ``>`` for ``>=``): a mutant that only a value equal to the compared one can tell apart."""
    pairs = zip(ast.walk(ast.parse(original)), ast.walk(ast.parse(mutated)))
    changed = [(a, b) for a, b in pairs if type(a) is not type(b)]
    return len(changed) == 1 and all(isinstance(n, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for n in changed[0])


def _code(source: str, name: str, device: str) -> str | None:
    try:
        row, _ = kernel_row(KernelSpec(None, "mutant", name, source), device, with_module=False)
    except Exception:  # noqa: BLE001 - a mutant Warp cannot build is no mutant of the row's code
        return None
    return row["forward_code"] + (row["backward_code"] or "")


# -- the measurements ---------------------------------------------------------------------------
def executable_share(rows: list[dict], replayed: list, rejects: Path, family: str | None = None) -> dict:
    """Of ``rows`` (launched again as ``replayed``) and the launch rejects in folder ``rejects``
    (of ``family`` only, when given), those that launch with finite outputs."""
    finite = Counter()
    tried = Counter()
    for row, result in zip(rows, replayed):
        tried[row["family"]] += 1
        if not isinstance(result, Failure) and result.non_finite == 0:
            finite[row["family"]] += 1
    for path in rejects_files(rejects):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["reason"] in LAUNCH_REJECTS and r.get("family") and (family is None or r["family"] == family):
                tried[r["family"]] += 1
    per_family = {f: round(finite[f] / tried[f], 3) for f in sorted(tried)}
    return {"rows_tried": sum(tried.values()), "executable": sum(finite.values()),
            "share": round(sum(finite.values()) / max(sum(tried.values()), 1), 4),
            "lowest_family": min(per_family.items(), key=lambda kv: kv[1]) if per_family else None, "per_family": per_family}


def trivial_matches(rows: list[dict]) -> dict:
    """Rows a kernel that does nothing, writes zeros or copies an input would pass."""
    matched = Counter()
    for row in rows:
        outputs = records_to_values(row["outputs"])
        inputs = records_to_values(row["inputs"])
        contract = json.loads(row["contract"])
        initial = {a["name"]: a["initial"] for a in contract["args"]}

        def same(a, b) -> bool:
            return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")

        flat = {k: v for k, v in outputs.items() if isinstance(v, np.ndarray)}
        nothing = all(same(v, inputs[k]) for k, v in flat.items())  # every output as it was before the launch (its sentinel, zeros or values)
        zeros = all(not v.any() and not (v.dtype.kind == "f" and np.isnan(v).any()) for v in flat.values())
        reads = [v for k, v in inputs.items() if isinstance(v, np.ndarray) and initial.get(k) == "values" and k not in flat]
        copies = all(any(same(v, r) for r in reads) for v in flat.values())
        for kind, hit in (("does_nothing", nothing), ("writes_zeros", zeros), ("copies_an_input", copies)):
            matched[kind] += bool(hit and flat)
        matched["any"] += bool((nothing or zeros or copies) and flat)
    n = max(len(rows), 1)
    return {"rows": len(rows), **{k: v for k, v in matched.items()}, "share_any": round(matched["any"] / n, 4)}


def sensitivity(rows: list[dict], config: str, count: int, seed: int, survivors_path: Path | None = None) -> dict:
    rng = random.Random(seed)
    picked = rng.sample(rows, min(count, len(rows)))
    requests, meta = [], []
    skipped = Counter()
    for row in picked:
        baseline = _code(ast.unparse(ast.parse(row["python_source"])), row["kernel_name"], config)
        for kind in MUTATIONS:
            source = mutant(row["python_source"], kind, rng)
            if source is None:
                skipped[f"{kind}: no site"] += 1
                continue
            code = _code(source, row["kernel_name"], config)
            if code is None or code == baseline:
                skipped[f"{kind}: {'does not build' if code is None else 'same code'}"] += 1
                continue
            requests.append(replace(replay_request(row), python_source=source, module_name=f"wirds_{source_id(source)}"))
            meta.append((row, kind))
    results = launch_all(requests)
    caught, crashed, total = Counter(), Counter(), Counter()
    per_row: dict[str, list] = {}  # row id: [family, mutants, caught]
    per_site_kind: dict[tuple[str, str], list] = {}  # (site_of, kind): [mutants, caught, never reached]
    survivors, survivor_keys = [], []
    for (row, kind), request, result in zip(meta, requests, results):
        total[kind] += 1
        tally = per_row.setdefault(row["id"], [row["family"], 0, 0])
        tally[1] += 1
        where = site_of(row["python_source"], request.python_source)
        alike = per_site_kind.setdefault((where, kind), [0, 0, 0])
        alike[0] += 1
        if isinstance(result, Failure):
            crashed[kind] += 1
        if isinstance(result, Failure) or differences(row, result):
            caught[kind] += 1
            tally[2] += 1
            alike[1] += 1
        else:
            survivors.append((row, kind, request))
            survivor_keys.append((where, kind))
    told_apart, told = _told_apart(survivors, FRESH_DRAWS)
    boundary = [k for k, (row, kind, request) in enumerate(survivors) if kind == "operator" and boundary_swap(row["python_source"], request.python_source)]
    sites = reached(survivors)
    for key, reach in zip(survivor_keys, sites):
        per_site_kind[key][2] += reach == "never reached"
    if survivors_path is not None:
        with survivors_path.open("w", encoding="utf-8") as f:
            for k, (row, kind, request) in enumerate(survivors):
                f.write(json.dumps({"id": row["id"], "family": row["family"], "kind": kind, "told_apart": k in told,
                                    "boundary_swap": k in boundary, "site": sites[k],
                                    "original": row["python_source"], "mutant": request.python_source}) + "\n")
    distinguishable = {k: caught[k] + told_apart[k] for k in MUTATIONS}
    return {
        "rows": len(picked), "mutants": sum(total.values()), "caught": sum(caught.values()),
        "share": round(sum(caught.values()) / max(sum(total.values()), 1), 4),
        "interval_95": row_bootstrap_interval([(m, c) for _, m, c in per_row.values()], seed),
        "fresh_draws": FRESH_DRAWS,
        "distinguishable": sum(distinguishable.values()),
        "share_of_distinguishable": round(sum(caught.values()) / max(sum(distinguishable.values()), 1), 4),
        # missed mutants that swap a comparison's boundary (< for <=) and that no fresh draw tells apart
        "missed_boundary_swaps_alike_on_every_draw": sum(1 for k in boundary if k not in told),
        # where the missed mutants' changes sit: code no thread reaches on the row's inputs, or not
        "missed_sites": dict(Counter(sites).most_common()),
        "share_if_every_block_ran": share_if_every_block_ran(per_site_kind.values()),
        "by_kind": {k: {"mutants": total[k], "caught": caught[k], "of_which_launch_failed": crashed[k],
                        "survivors_told_apart_by_fresh_draws": told_apart[k]} for k in MUTATIONS},
        "by_family": by_family(per_row.values()),
        # every mutant (caught or not) by where its change sits in the code
        "by_site": by_site(per_site_kind),
        "skipped": dict(sorted(skipped.items())),
    }


def by_site(per_site_kind: dict[tuple[str, str], list]) -> dict:
    """Mutants and caught per site (the kinds added up), the site with the most mutants first."""
    sites: dict[str, list] = {}
    for (site, _), (mutants, caught, _) in per_site_kind.items():
        tally = sites.setdefault(site, [0, 0])
        tally[0] += mutants
        tally[1] += caught
    return {k: {"mutants": m, "caught": c, "share": round(c / m, 4)} for k, (m, c) in sorted(sites.items(), key=lambda kv: -kv[1][0])}


def share_if_every_block_ran(tallies) -> float:
    """The share caught if the code no thread reaches on the rows' inputs were reached, and its
    mutants caught as often as the reached ones of their kind at their site (``tallies``:
    ``(mutants, caught, never reached)`` per site and kind): an estimate of what inputs that run
    every branch would add. The mutants it still counts as missed change code that runs and that
    no output shows."""
    tallies = [tuple(t) for t in tallies]
    mutants = sum(m for m, _, _ in tallies)
    expected = 0.0
    for m, c, never in tallies:
        reached_mutants = m - never
        expected += c + (never * c / reached_mutants if reached_mutants else 0.0)
    return round(expected / max(mutants, 1), 4)


def row_bootstrap_interval(tallies: list[tuple[int, int]], seed: int, resamples: int = 2000) -> list[float]:
    """A 95% interval for the share caught, resampling rows (``(mutants, caught)`` each): a row's
    mutants share its inputs, so they are not independent draws and a binomial interval would be
    too narrow."""
    if not tallies:
        return [0.0, 0.0]
    counts = np.array(tallies, dtype=np.int64)
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
    shares = counts[picks, 1].sum(axis=1) / np.maximum(counts[picks, 0].sum(axis=1), 1)
    low, high = np.percentile(shares, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def by_family(tallies) -> dict:
    """Mutants and caught per generator family, the lowest share first."""
    out: dict[str, dict] = {}
    for family, mutants, caught in tallies:
        f = out.setdefault(family, {"rows": 0, "mutants": 0, "caught": 0})
        f["rows"] += 1
        f["mutants"] += mutants
        f["caught"] += caught
    for f in out.values():
        f["share"] = round(f["caught"] / max(f["mutants"], 1), 4)
    return dict(sorted(out.items(), key=lambda kv: (kv[1]["share"], kv[0])))


# -- where a missed mutant's change sits ----------------------------------------------------------
PROBE = "_reach_probe"


def _changed_line(original: str, mutated: str) -> int:
    """The first line of ``original`` (as ``ast.unparse`` writes it) that ``mutated`` changes."""
    a, b = original.splitlines(), mutated.splitlines()
    for tag, i1, _, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            return i1 + 1
    return 0


SITES = ("straight-line code", "a branch's body", "a condition", "a loop's body", "a helper", "outside a Warp function")


def site_of(original: str, mutated: str) -> str:
    """Where a mutant's change sits, one of :data:`SITES`: in a ``@wp.func`` helper; in the test of
    an ``if``/``elif``/``while``, a ``wp.where`` or a conditional expression, or a loop's range
    ("a condition"); in a statement under an ``if`` or ``else`` (the innermost enclosing block
    decides between a branch's body and a loop's); else in code every thread runs."""
    source, mutated = ast.unparse(ast.parse(original)), ast.unparse(ast.parse(mutated))
    line = _changed_line(source, mutated)
    function = _function_at(ast.parse(source), line)
    if _decorated(function, "func"):
        return SITES[4]
    if not _decorated(function, "kernel"):
        return SITES[5]
    innermost = None  # the smallest statement holding the line
    enclosing = []  # the ifs and loops around it (and it, if it is one)
    for node in ast.walk(function):
        if isinstance(node, (ast.If, ast.For, ast.While)) and node.lineno <= line <= node.end_lineno:
            enclosing.append(node)
        if isinstance(node, ast.stmt) and node is not function and node.lineno <= line <= node.end_lineno:
            if innermost is None or node.end_lineno - node.lineno < innermost.end_lineno - innermost.lineno:
                innermost = node
    if isinstance(innermost, (ast.If, ast.For, ast.While)) or (innermost is not None and _condition_changed(innermost, source, mutated, line)):
        return SITES[2]
    blocks = [n for n in enclosing if n is not innermost]
    if not blocks:
        return SITES[0]
    inner = min(blocks, key=lambda n: n.end_lineno - n.lineno)
    return SITES[1] if isinstance(inner, ast.If) else SITES[3]


def _condition_changed(stmt: ast.stmt, source: str, mutated: str, line: int) -> bool:
    """Whether the mutant changes a condition inside ``stmt`` (a comparison, a boolean operator,
    the test of a ``wp.where`` or a conditional expression) rather than a value beside it."""
    mutated_lines = mutated.splitlines()
    if len(mutated_lines) != len(source.splitlines()):
        return False  # a statement dropped, not a condition changed
    tests = []
    for n in ast.walk(stmt):
        if isinstance(n, ast.IfExp):
            tests.append(n.test)
        elif isinstance(n, ast.Call) and ast.unparse(n.func) == "wp.where" and n.args:
            tests.append(n.args[0])
        elif isinstance(n, (ast.Compare, ast.BoolOp)):
            tests.append(n)
    original_line, new_line = source.splitlines()[line - 1], mutated_lines[line - 1]
    return any(ast.unparse(t) in original_line and ast.unparse(t) not in new_line for t in tests)


def _kernel_def(tree: ast.Module, line: int | None = None) -> ast.FunctionDef | None:
    """The ``@wp.kernel`` function (the one holding ``line``, where given)."""
    return next((f for f in _bodies(tree) if (line is None or f.lineno <= line <= f.end_lineno)
                 and any("kernel" in ast.unparse(d) for d in f.decorator_list)), None)


def _function_at(tree: ast.Module, line: int) -> ast.FunctionDef | None:
    """The innermost function holding ``line``: a factory's kernel, not the factory."""
    return max((f for f in _bodies(tree) if f.lineno <= line <= f.end_lineno), key=lambda f: f.lineno, default=None)


def _decorated(function: ast.FunctionDef | None, word: str) -> bool:
    return function is not None and any(word in ast.unparse(d) for d in function.decorator_list)


def _in_helper(source: str, line: int) -> bool:
    return _decorated(_function_at(ast.parse(source), line), "func")


def _count(slot: int) -> ast.stmt:
    return ast.parse(f"wp.atomic_add({PROBE}, {slot}, 1)").body[0]


def _with_probe_argument(tree: ast.Module, kernel: ast.FunctionDef) -> str:
    """The source of ``tree`` with ``PROBE``, an int array, as the kernel's last argument."""
    probe_type = "wp.array(dtype=wp.int32)"
    kernel.args.args.append(ast.arg(PROBE, ast.parse(probe_type, mode="eval").body))
    for call in ast.walk(tree):  # a generic kernel's overloads take the probe too
        if isinstance(call, ast.Call) and ast.unparse(call.func).endswith("overload") and len(call.args) == 2 and ast.unparse(call.args[0]) == kernel.name:
            types = call.args[1]
            if isinstance(types, ast.List):
                types.elts.append(ast.parse(probe_type, mode="eval").body)
            elif isinstance(types, ast.Dict):
                types.keys.append(ast.Constant(PROBE))
                types.values.append(ast.parse(probe_type, mode="eval").body)
    return ast.unparse(ast.fix_missing_locations(tree))


def _probe_request(row: dict, probed: str, slots: int) -> Request:
    """The row's launch again, of ``probed`` with its ``PROBE`` array of ``slots`` zeros."""
    contract = json.loads(row["contract"])
    template = next(a for a in contract["args"] if a["kind"] == "array")  # the fields every array has
    contract["args"].append({**template, "name": PROBE, "dtype": "int32", "ndim": 1, "shape": [slots], "access": "write",
                             "initial": "zeros", "index": None, "value": None, "fields": [], "handle": None})
    return replace(replay_request(row), python_source=probed, module_name=f"wirds_{source_id(probed)}",
                   contract_json=json.dumps(contract), output_grads=[],
                   inputs=row["inputs"] + value_records({PROBE: np.zeros(slots, np.int32)}))


def _probed(original: str, line: int) -> str | None:
    """``original`` with a count of the threads that reach ``line``'s statement, or None when the
    line is not in the kernel's own body."""
    tree = ast.parse(original)
    kernel = _kernel_def(tree, line)
    if kernel is None:
        return None
    innermost = None
    for node in ast.walk(kernel):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            for k, stmt in enumerate(block if isinstance(block, list) else []):
                if isinstance(stmt, ast.stmt) and stmt.lineno <= line <= stmt.end_lineno:
                    if innermost is None or stmt.end_lineno - stmt.lineno <= innermost[2]:
                        innermost = (block, k, stmt.end_lineno - stmt.lineno)
    if innermost is None:
        return None
    block, k, _ = innermost
    block.insert(k, _count(0))
    return _with_probe_argument(tree, kernel)


def reached(survivors: list) -> list[str]:
    """For each missed mutant: whether any thread reaches the statement it changes on the row's
    inputs ("reached", "never reached"), or "in a helper" (a ``@wp.func``'s body), "outside a Warp
    function" (the Python around a kernel, a factory's own lines), or "not probed"."""
    sites, requests, at = [], [], {}
    for k, (row, _, mutated) in enumerate(survivors):
        original = ast.unparse(ast.parse(row["python_source"]))
        line = _changed_line(original, mutated.python_source)
        probed = _probed(original, line)
        sites.append(("in a helper" if _in_helper(original, line) else "outside a Warp function") if probed is None else "")
        if probed is not None:
            at[k] = len(requests)
            requests.append(_probe_request(row, probed, 1))
    results = launch_all(requests)
    for k, i in at.items():
        result = results[i]
        sites[k] = "not probed" if isinstance(result, Failure) else "reached" if int(result.outputs[PROBE][0]) else "never reached"
    return sites


def _block_probes(original: str) -> tuple[str, int] | None:
    """``original`` with a count at the head of every block of the kernel's own body that runs
    on a condition (an ``if``'s two sides, a loop's body), and how many blocks that is."""
    tree = ast.parse(original)
    kernel = _kernel_def(tree)
    if kernel is None:
        return None
    blocks = [block for node in ast.walk(kernel) if isinstance(node, (ast.If, ast.For, ast.While))
              for block in (node.body, node.orelse) if block and not (len(block) == 1 and isinstance(block[0], ast.If) and block is node.orelse)
              and not all(isinstance(stmt, (ast.Return, ast.Continue, ast.Break, ast.Pass)) for stmt in block)]
    # an elif's block is counted as its own if's; a block of a bare ``return`` or ``continue``
    # holds nothing a change could hide in
    for slot, block in enumerate(blocks):
        block.insert(0, _count(slot))
    return _with_probe_argument(tree, kernel), len(blocks)


def coverage(rows: list[dict]) -> dict:
    """The share of the kernels' conditional blocks (an ``if``'s or ``elif``'s body, an ``else``,
    a loop's body) that at least one thread runs on the row's inputs: a block no thread runs
    hides every change in it from the outputs."""
    requests, meta = [], []
    for row in rows:
        probed = _block_probes(ast.unparse(ast.parse(row["python_source"])))
        if probed and probed[1]:
            requests.append(_probe_request(row, *probed))
            meta.append((row["family"], probed[1]))
    results = launch_all(requests)
    blocks, run, per_family = Counter(), Counter(), {}
    for (family, n), result in zip(meta, results):
        if isinstance(result, Failure):
            continue
        blocks[family] += n
        run[family] += int(np.count_nonzero(result.outputs[PROBE]))
    for family in sorted(blocks):
        per_family[family] = round(run[family] / blocks[family], 3)
    return {"rows_with_blocks": len(meta), "rows_probed": sum(1 for r in results if not isinstance(r, Failure)),
            "blocks": sum(blocks.values()), "run": sum(run.values()),
            "share": round(sum(run.values()) / max(sum(blocks.values()), 1), 4), "per_family": per_family}


def _told_apart(survivors: list, draws: int) -> tuple[Counter, set[int]]:
    """Of the mutants the row's inputs did not catch, those that some of ``draws`` fresh draws
    of inputs (the row's contract, other seeds) tell apart from the original kernel. The rest
    behave alike on every input tried: most change code whose value never reaches an output."""
    requests = []
    for row, _, mutated in survivors:
        contract = Contract.from_json(row["contract"])
        for d in range(draws):
            inputs = value_records(make_inputs(contract, 7919 * (d + 1)))
            original = replay_request(row)
            requests += [replace(original, inputs=inputs), replace(mutated, inputs=inputs)]
    results = launch_all(requests)
    told, which = Counter(), set()
    for k, (row, kind, _) in enumerate(survivors):
        for d in range(draws):
            original, mutated = results[2 * (k * draws + d)], results[2 * (k * draws + d) + 1]
            if isinstance(original, Failure):
                continue
            as_row = {"outputs": value_records(original.outputs), "input_grads": value_records(original.input_grads) if row["input_grads"] else []}
            if differences(as_row, mutated):
                told[kind] += 1
                which.add(k)
                break
    return told, which


def sites_of(folder: Path, config: str, split: str, path: Path) -> dict:
    """``missed_sites`` and the boundary swaps for the mutants listed in ``path`` (rewritten with them)."""
    rows = {r["id"]: r for r in executed_rows(folder, config, split)}
    listed = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    survivors = [(rows[x["id"]], x["kind"], replace(replay_request(rows[x["id"]]), python_source=x["mutant"], module_name=f"wirds_{source_id(x['mutant'])}"))
                 for x in listed]
    for x, site in zip(listed, reached(survivors)):
        x["site"] = site
        x["boundary_swap"] = x["kind"] == "operator" and boundary_swap(x["original"], x["mutant"])
    path.write_text("".join(json.dumps(x) + "\n" for x in listed), encoding="utf-8")
    return {"missed": len(listed), "missed_sites": dict(Counter(x["site"] for x in listed).most_common()),
            "missed_boundary_swaps_alike_on_every_draw": sum(1 for x in listed if x["boundary_swap"] and not x["told_apart"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--config", default="cpu")
    ap.add_argument("--split", default="train")
    ap.add_argument("--rows", type=int, default=500, help="rows whose mutants are launched")
    ap.add_argument("--seed", type=int, default=25)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--survivors", type=Path, help="write the mutants the rows' inputs miss here (JSON lines: original, mutant, whether a fresh draw tells them apart)")
    ap.add_argument("--coverage-only", action="store_true", help="only measure the conditional blocks the rows' inputs run")
    ap.add_argument("--sites-of", type=Path, help="only say where the mutants of an earlier --survivors file sit (and add it to the file)")
    ap.add_argument("--family", help="only the rows of this generator family (a change to one family measured where it acts)")
    args = ap.parse_args()
    started = time.perf_counter()
    if args.sites_of:
        print(json.dumps(sites_of(args.folder, args.config, args.split, args.sites_of), indent=None if args.json else 2))
        return
    rows = [r for r in executed_rows(args.folder, args.config, args.split) if args.family is None or r["family"] == args.family]
    if not rows:
        sys.exit(f"behaviour: no executed{' ' + args.family if args.family else ''} rows in {args.folder / args.config} ({args.split})")
    if args.coverage_only:
        print(json.dumps(coverage(rows), indent=None if args.json else 2))
        return
    replayed = launch_all([replay_request(r) for r in rows])
    agree = sum(1 for r, res in zip(rows, replayed) if not differences(r, res, rtol=0.0, atol=0.0))
    deterministic = sum(1 for res in replayed if not isinstance(res, Failure) and res.deterministic)
    report = {
        "folder": str(args.folder), "config": args.config, "split": args.split,
        "family": args.family,
        "executable": executable_share(rows, replayed, args.folder / args.config, args.family),
        "determinism": {"rows": len(rows), "second_launch_identical": deterministic, "relaunch_bit_identical_to_row": agree},
        "trivial_kernels": trivial_matches(rows),
        "coverage": coverage(rows),
        "sensitivity": sensitivity(rows, args.config, args.rows, args.seed, args.survivors),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
