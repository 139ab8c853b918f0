"""The ``evaluate`` command: score a model's predictions on a split by what their code does.

    python -m warp_ir_dataset.evaluate PREDICTIONS --data DIR --config cpu|cuda [--split test]
        --task compile|decompile [--workers N] [--timeout S] [--out FILE]

PREDICTIONS is JSON lines or Parquet with ``id`` (a row's) and ``prediction``; for ``compile``
an optional ``backward`` too.

* ``compile``: the prediction is the row's ``forward_code`` (``backward`` its ``backward_code``).
  Checked: equal to the row's code, equal after :func:`normalized` (comments, ``#line``
  directives, blank space and Warp's name hashes removed), compiles inside the module Warp
  generates for the row's kernel, and, launched on the row's inputs (cpu), gives its outputs
  (and, with ``backward``, its gradients). The cuda config's code is compiled with NVRTC; it
  runs only where a GPU is, so without one it is scored as far as it compiles.
* ``decompile``: the prediction is Python source of one ``@wp.kernel``. Checked: it parses,
  Warp builds it, the code Warp generates for it equals the row's (after :func:`normalized`),
  and launched on the row's inputs it gives the row's outputs (and gradients).

One outcome per candidate: ``parse_fail``, ``compile_fail``, ``runtime_error``, ``timeout``,
``mismatch`` or ``pass`` (behaviour equal to the row's: the same rules as ``run``), with the
checks behind it. Outcomes are appended to ``--out`` as they come (an interrupted evaluation
goes on from there); the summary (per family and over all) is written beside it as JSON and
printed as a Markdown table.

Evaluating runs the predicted code. Candidates run one after another in launching processes
apart from this one, up to :data:`BATCH` in a process: a crash or a hang (``--timeout``) fails
that candidate alone (the rest of its batch go on in a fresh process); the process's address
space is capped, and its home, temp folder and Warp's kernel cache are a scratch folder removed
afterwards. Candidates of one batch share their process, so one candidate's Python can change
what the next ones run with (``--isolate``: a process each); and it is not a sandbox: predicted Python can still read and
write what your user can. Run predictions you do not trust in a container.
"""
from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

from .checks import BuildError, check_config, check_output_file
from . import _warp
from .execute import CompiledOnly, Failure, Request, in_batches, run_kernels
from .generate import source_id
from .replay import differences, split_rows

TASKS = ("compile", "decompile")
OUTCOMES = ("pass", "mismatch", "runtime_error", "timeout", "compile_fail", "parse_fail")
CHECKS = {
    "compile": ("exact", "normalized", "compiles", "runs", "outputs", "gradients"),
    "decompile": ("parses", "builds", "code", "runs", "outputs", "gradients"),
}
DEFAULT_TIMEOUT = 60.0
BATCH = 8  # candidates per launching process (a crash costs the rest a fresh process)


# -- what does not change meaning ----------------------------------------------------------------
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_LINE_DIRECTIVES = re.compile(r"^\s*#line [^\n]*$", re.M)
# Warp names a kernel's functions and structs after a hash of its module: ``k_96ca4551_cpu_…``.
_NAME_HASHES = re.compile(r"(?<=[A-Za-z0-9])_[0-9a-f]{8}(?=\b|_)")


def normalized(code: str | None) -> str:
    """Generated code without what does not change its meaning: comments, ``#line``
    directives, blank space, and the module hashes Warp puts into names."""
    if not code:
        return ""
    code = _LINE_DIRECTIVES.sub("", _COMMENTS.sub("", code))
    code = _NAME_HASHES.sub("_#", code)
    return " ".join(code.split())


# -- candidates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    row: dict
    prediction: str
    backward: str | None = None


def read_predictions(path: Path) -> dict[str, dict]:
    """``id → {prediction, backward}``; one line for a file that is not what it should be."""
    if not path.is_file():
        raise BuildError(f"no predictions file at {path}")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            records = pq.read_table(path).to_pylist()
        else:
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except Exception as e:  # noqa: BLE001 - whatever the file is, the user gets one line
        raise BuildError(f"{path}: not JSON lines or Parquet of predictions ({str(e).splitlines()[0][:200]})") from None
    if not records:
        raise BuildError(f"{path}: no predictions in it")
    out = {}
    for n, r in enumerate(records, 1):
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not isinstance(r.get("prediction"), str):
            raise BuildError(f"{path}: record {n} needs a string 'id' and a string 'prediction'")
        out[r["id"]] = {"prediction": r["prediction"], "backward": r.get("backward")}
    return out


# -- scoring -------------------------------------------------------------------------------------
def request_for(task: str, config: str, c: Candidate) -> Request | None:
    """The launch that checks a candidate; None: nothing to launch (it did not parse)."""
    row = c.row
    # a row that records no behaviour (the real split) is scored on its code: built, compiled, not launched
    replay = {"contract_json": row["contract"], "inputs": row["inputs"], "output_grads": row["output_grads"] if _checks_gradients(task, c) else None,
              "launch": row["outputs"] is not None}
    if task == "decompile":
        try:
            ast.parse(c.prediction)
        except (SyntaxError, ValueError):
            return None
        return Request(c.prediction, None, 0, f"wirds_{source_id(c.prediction)}", codegen_device=config, **replay)
    swaps = [("forward", row["forward_code"], c.prediction)]
    if c.backward is not None and row["backward_code"]:
        swaps.append(("backward", row["backward_code"], c.backward))
    # cuda code runs on a GPU, against the outputs recorded on the cpu; without one, NVRTC compiles it.
    device = "cpu" if config == "cpu" else "cuda" if _warp.cuda_available() else "cuda-compile"
    return Request(row["python_source"], row["kernel_name"], 0, f"wirds_{row['id']}", replace_code=tuple(swaps), device=device, **replay)


def _checks_gradients(task: str, c: Candidate) -> bool:
    """Gradients are checked where the row has them and the candidate supplies the code behind
    them (compile: only with a predicted ``backward``; otherwise the row's own would run)."""
    return bool(c.row["input_grads"]) and (task == "decompile" or c.backward is not None)


def score(task: str, config: str, c: Candidate, result) -> dict:
    """One candidate's outcome and the checks behind it."""
    row = c.row
    checks: dict[str, bool | None] = dict.fromkeys(CHECKS[task])
    if task == "compile":
        checks["exact"] = c.prediction == row["forward_code"] and (c.backward is None or c.backward == (row["backward_code"] or ""))
        checks["normalized"] = normalized(c.prediction) == normalized(row["forward_code"]) and (
            c.backward is None or normalized(c.backward) == normalized(row["backward_code"]))
    outcome, detail = _outcome(task, row, c, result, checks)
    return {"id": row["id"], "family": row["family"], "outcome": outcome, "checks": checks, "detail": detail}


def _outcome(task: str, row: dict, c: Candidate, result, checks: dict) -> tuple[str, str]:
    built = "compiles" if task == "compile" else "builds"  # the check a toolchain's verdict sets
    if result is None:
        checks["parses"] = False
        return "parse_fail", "the prediction is not Python"
    if task == "decompile":
        checks["parses"] = True
        if result.code:  # Warp generated the candidate's code before whatever came next failed
            checks["code"] = normalized(result.code.get("forward_code")) == normalized(row["forward_code"])
    if isinstance(result, Failure):
        if result.reason in ("build-error", "no-contract", "clang-error", "nvrtc-error"):
            checks["builds" if result.reason in ("build-error", "no-contract") else built] = False
            return "compile_fail", _first_line(result)
        if result.reason == "launch-error":  # Warp raised launching it: it was built and compiled
            checks[built] = True
        checks["runs"] = False
        return ("timeout" if result.reason == "launch-timeout" else "runtime_error"), _first_line(result)
    checks[built] = True
    if isinstance(result, CompiledOnly):  # cuda code without a GPU, or a row without behaviour: scored on its code
        why = "the row records no behaviour" if row["outputs"] is None else "compiled with NVRTC; no GPU here to run it"
        return ("pass" if checks["code" if task == "decompile" else "normalized"] else "mismatch"), f"{why}, so scored on its code"
    checks["runs"] = True
    found = differences({**row, "input_grads": row["input_grads"] if _checks_gradients(task, c) else None}, result)
    checks["outputs"] = not any(f.startswith("outputs") for f in found)
    if _checks_gradients(task, c):
        checks["gradients"] = not any(f.startswith("input_grads") for f in found)
    return ("pass", "") if not found else ("mismatch", found[0][:300])


def _first_line(failure: Failure) -> str:
    return failure.message.splitlines()[0][:300] if failure.message else failure.reason


def evaluate(task: str, config: str, candidates: list[Candidate], workers: int = 1, timeout: float = DEFAULT_TIMEOUT, on_done=None,
             batch: int = BATCH) -> list[dict]:
    """Each candidate's outcome, in order; ``on_done(outcomes)`` after each batch of ``batch``
    candidates, which share a launching process (1: each candidate in a process of its own)."""
    def run(batch: list[Candidate]) -> list[dict]:
        requests = [request_for(task, config, c) for c in batch]
        launched = run_kernels([r for r in requests if r is not None], timeout=timeout, untrusted=True)
        results = [launched.pop(0) if r is not None else None for r in requests]
        outcomes = [score(task, config, c, res) for c, res in zip(batch, results)]
        if on_done is not None:
            on_done(outcomes)
        return outcomes

    return in_batches(candidates, run, workers, batch)


def summarize(outcomes: list[dict], task: str) -> dict:
    by_family: dict[str, Counter] = {}
    for o in outcomes:
        by_family.setdefault(o["family"], Counter())[o["outcome"]] += 1
    total = Counter(o["outcome"] for o in outcomes)
    checks = {name: _share([o["checks"].get(name) for o in outcomes]) for name in CHECKS[task]}
    n = len(outcomes)
    return {
        "task": task, "candidates": n, "outcomes": {k: total[k] for k in OUTCOMES},
        "pass_rate": round(total["pass"] / n, 4) if n else 0.0, "checks": checks,
        "by_family": {f: {"candidates": sum(c.values()), "pass": c["pass"], "pass_rate": round(c["pass"] / sum(c.values()), 4),
                          "outcomes": {k: c[k] for k in OUTCOMES}} for f, c in sorted(by_family.items())},
    }


def _share(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def markdown(summary: dict) -> str:
    lines = [f"| {summary['task']} | candidates | " + " | ".join(OUTCOMES) + " | pass rate |", "|---|---:|" + "---:|" * (len(OUTCOMES) + 1)]
    lines.append(f"| all | {summary['candidates']} | " + " | ".join(str(summary["outcomes"][k]) for k in OUTCOMES) + f" | {100 * summary['pass_rate']:.1f}% |")
    for family, f in summary["by_family"].items():
        lines.append(f"| {family} | {f['candidates']} | " + " | ".join(str(f["outcomes"][k]) for k in OUTCOMES) + f" | {100 * f['pass_rate']:.1f}% |")
    checks = ", ".join(f"{k} {100 * v:.1f}%" for k, v in summary["checks"].items() if v is not None)
    unchecked = [k for k, v in summary["checks"].items() if v is None]
    note = f" (not checked for any candidate: {', '.join(unchecked)})" if unchecked else ""
    return "\n".join(lines) + f"\n\nChecks passed: {checks}{note}\n"


# -- the command ---------------------------------------------------------------------------------
@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("predictions", type=click.Path(path_type=Path))
@click.option("--data", "data", type=click.Path(path_type=Path), required=True, help="The dataset folder (a build's --out).")
@click.option("--config", "config", required=True, help="Which config's rows: cpu or cuda.")
@click.option("--split", default="test", show_default=True, help="Which split's rows.")
@click.option("--task", "task", required=True, help="compile (Python → generated code) or decompile (generated code → Python).")
@click.option("--workers", type=int, default=1, show_default=True, help="Launching processes at once.")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, help="Seconds one candidate may take (build, compile, launches).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Outcomes as JSON lines [default: PREDICTIONS.TASK.CONFIG.jsonl]; the summary beside it.")
@click.option("--isolate", is_flag=True, help=f"Each candidate in a launching process of its own (slower), not {BATCH} to a process: no candidate's Python can change what another runs with.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def main(predictions, data, config, split, task, workers, timeout, out, isolate, quiet) -> None:
    """Score predictions on a split by what their code does. Runs the predicted code."""
    from tqdm import tqdm

    check_config(config)
    if task not in TASKS:
        raise BuildError(f"unknown --task {task!r}; choose from {', '.join(TASKS)}")
    if workers < 1 or not timeout > 0:
        raise BuildError("--workers must be at least 1 and --timeout positive")
    predicted = read_predictions(predictions)
    rows = {r["id"]: r for r in split_rows(data, config, split)}
    unknown = sorted(set(predicted) - set(rows))
    if unknown:
        raise BuildError(f"{len(unknown)} predictions name no {split} row of {config} (first: {unknown[0]})")
    out = out or predictions.with_name(f"{predictions.stem}.{task}.{config}.jsonl")
    check_output_file(out, "--out")
    done = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    seen = {o["id"] for o in done}
    todo = [Candidate(rows[i], p["prediction"], p["backward"]) for i, p in sorted(predicted.items()) if i not in seen]
    bar = tqdm(total=len(predicted), initial=len(seen), unit="candidate", disable=quiet)
    with open(out, "a", encoding="utf-8") as sink:
        def record(outcomes: list[dict]) -> None:
            for o in outcomes:
                sink.write(json.dumps(o, sort_keys=True) + "\n")
            sink.flush()
            bar.update(len(outcomes))

        evaluate(task, config, todo, workers, timeout, on_done=record, batch=1 if isolate else BATCH)
    bar.close()
    outcomes = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    summary = summarize(outcomes, task)
    summary_path = out.with_name(out.stem + ".summary.json")
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(markdown(summary))
    click.echo(f"outcomes: {out}; summary: {summary_path}")


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "evaluate")
