"""The ``predict`` command: predictions for ``evaluate`` from a baseline or from your model.

    python -m warp_ir_dataset.predict --data DIR --config cpu --task decompile --with nearest --out preds.jsonl

``--with`` names a baseline that needs no trained model, or ``MODULE:FUNCTION``, a function
``(row: dict, task: str) -> str | dict`` that maps a row to its prediction (the row as it is
stored; a model must read only its input: ``python_source`` for ``compile``, ``forward_code``
for ``decompile``). A dict may give ``prediction`` and, for ``compile``, ``backward``.

Baselines:

* ``nearest``: the ``train`` row whose input is most alike (MinHash over token shingles, as the
  card's near-duplicate count), its answer with the kernel's names rewritten to the row's
  (``compile``: the kernel's mangled name; ``decompile``: the kernel's name).
* ``empty-body``: the row's kernel with nothing in its body (``compile``: Warp's code for the
  row's kernel with its body emptied; ``decompile``: a ``@wp.kernel`` with the arguments the
  generated code's argument struct declares, and ``pass``). It shows how far getting the
  interface right goes: only kernels whose outputs do not depend on their work pass.
"""
from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Callable

import click
import numpy as np

from .checks import BuildError, check_config, check_output_file
from .evaluate import TASKS
from .replay import split_rows
from .write import atomic_write

BASELINES = ("nearest", "empty-body")
# Not a baseline: each row's own answer, which must score 100% (a check of the harness and the
# machine), and what the evaluation's speed is quoted for.
REFERENCE = "reference"
_MANGLED = re.compile(r"static void (\w+)_(?:cpu|cuda)_kernel_forward\(")


def _input(row: dict, task: str) -> str:
    return row["python_source"] if task == "compile" else row["forward_code"]


def _answer(row: dict, task: str) -> dict:
    if task == "compile":
        return {"prediction": row["forward_code"], "backward": row["backward_code"]}
    return {"prediction": row["python_source"]}


def _kernel_def_name(source: str) -> str | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any("kernel" in ast.unparse(d) for d in node.decorator_list):
            return node.name
    return None


# -- nearest ---------------------------------------------------------------------------------------
class Nearest:
    """The most alike ``train`` row's answer, renamed."""

    def __init__(self, train: list[dict], task: str):
        from datasketch import MinHash

        from .stats import NUM_PERM, _identity, shingle_hashes

        self.train, self.task = train, task
        self._shingles, self._perm, self._hash = shingle_hashes, NUM_PERM, _identity
        hashes = MinHash.bulk([shingle_hashes(_input(r, task)) for r in train], num_perm=NUM_PERM, hashfunc=_identity)
        self.signatures = np.stack([m.hashvalues for m in hashes])

    def __call__(self, row: dict, task: str) -> dict:
        from datasketch import MinHash

        (m,) = MinHash.bulk([self._shingles(_input(row, task))], num_perm=self._perm, hashfunc=self._hash)
        best = self.train[int(np.argmax((self.signatures == m.hashvalues).sum(axis=1)))]
        answer = _answer(best, task)
        if task == "compile":
            theirs, ours = _MANGLED.search(best["forward_code"]), _MANGLED.search(row["forward_code"] or "")
            if theirs and ours:  # the model sees the kernel's name and Warp's naming: take them as given
                answer = {k: (v.replace(theirs.group(1), ours.group(1)) if v else v) for k, v in answer.items()}
        else:
            theirs, ours = _kernel_def_name(best["python_source"]), row["kernel_name"].rpartition("__locals__")[2]
            if theirs:
                answer = {"prediction": re.sub(rf"\b{re.escape(theirs)}\b", ours, answer["prediction"])}
        return answer


# -- empty body ------------------------------------------------------------------------------------
_SCALARS = {"wp::float32": "wp.float32", "wp::float64": "wp.float64", "wp::float16": "wp.float16", "wp::int32": "wp.int32", "wp::int64": "wp.int64",
            "wp::uint32": "wp.uint32", "wp::uint64": "wp.uint64", "wp::int8": "wp.int8", "wp::uint8": "wp.uint8", "wp::int16": "wp.int16",
            "wp::uint16": "wp.uint16", "bool": "wp.bool"}


def _warp_type(cpp: str) -> str | None:
    """The Warp annotation for a C++ type of Warp's argument struct; None for one it cannot
    name (a struct of the kernel's source)."""
    cpp = cpp.strip()
    if cpp in _SCALARS:
        return {"wp::float32": "float", "wp::int32": "int"}.get(cpp, _SCALARS[cpp])
    if m := re.fullmatch(r"wp::array_t<(.+)>", cpp):
        inner = _warp_type(m.group(1))
        return None if inner is None else f"wp.array(dtype={inner})"
    if (m := re.fullmatch(r"wp::vec_t<(\d+), (wp::\w+)>", cpp)) and m.group(2) in _SCALARS:
        return f"wp.types.vector(length={m.group(1)}, dtype={_SCALARS[m.group(2)]})"
    if (m := re.fullmatch(r"wp::mat_t<(\d+), (\d+), (wp::\w+)>", cpp)) and m.group(3) in _SCALARS:
        return f"wp.types.matrix(shape=({m.group(1)}, {m.group(2)}), dtype={_SCALARS[m.group(3)]})"
    if (m := re.fullmatch(r"wp::(quat|transform)_t<(wp::\w+)>", cpp)) and m.group(2) in _SCALARS:
        return f"wp.types.{'quaternion' if m.group(1) == 'quat' else 'transformation'}(dtype={_SCALARS[m.group(2)]})"
    return None


def empty_body(row: dict, task: str) -> dict:
    if task == "compile":
        from .codegen import kernel_row
        from .generate import KernelSpec

        tree = ast.parse(row["python_source"])
        kernel = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == row["kernel_name"].rpartition("__locals__")[2])
        kernel.body = [ast.Pass()]
        made, _ = kernel_row(KernelSpec(None, "baseline", row["kernel_name"], ast.unparse(tree)), row["device"], with_module=False)
        theirs, ours = _MANGLED.search(made["forward_code"]), _MANGLED.search(row["forward_code"])
        rename = (lambda text: text.replace(theirs.group(1), ours.group(1)) if text and theirs and ours else text)
        return {"prediction": rename(made["forward_code"]), "backward": rename(made["backward_code"])}
    # the arguments: a cpu kernel's argument struct, or a cuda kernel's parameters after its launch bounds
    struct = re.search(r"struct wp_args_\w+ \{(.*?)\};", row["forward_code"], re.S)
    params = re.search(r"_cuda_kernel_forward\(\s*wp::launch_bounds_t<\d+> dim,(.*?)\)\s*\{", row["forward_code"], re.S)
    declared = struct.group(1).strip().splitlines() if struct else params.group(1).split(",\n") if params else []
    args = []
    for line in declared:
        cpp, _, name = line.strip().rstrip(";").rpartition(" ")
        args.append(f"{name.removeprefix('var_')}: {_warp_type(cpp) or 'wp.uint64'}")
    name = row["kernel_name"].rpartition("__locals__")[2]
    return {"prediction": f"import warp as wp\n\n\n@wp.kernel\ndef {name}({', '.join(args)}):\n    pass\n"}


def predictor(spec: str, train: list[dict], task: str) -> Callable[[dict, str], str | dict]:
    if spec == REFERENCE:
        return _answer
    if spec == "nearest":
        return Nearest(train, task)
    if spec == "empty-body":
        return empty_body
    module, _, function = spec.partition(":")
    if not function:
        raise BuildError(f"--with must be one of {', '.join((*BASELINES, REFERENCE))} or MODULE:FUNCTION, got {spec!r}")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as e:
        raise BuildError(f"--with {spec}: {e}") from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", "data", type=click.Path(path_type=Path), required=True, help="The dataset folder (a build's --out).")
@click.option("--config", "config", required=True, help="cpu or cuda.")
@click.option("--split", default="test", show_default=True, help="Which split's rows to predict.")
@click.option("--task", "task", required=True, help="compile or decompile.")
@click.option("--with", "with_", required=True, help=f"A baseline ({', '.join(BASELINES)}), {REFERENCE} (each row's own answer) or MODULE:FUNCTION mapping (row, task) to a prediction.")
@click.option("--limit", type=int, default=None, help="Only the first N rows (by id).")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Predictions as JSON lines, for evaluate.")
def main(data, config, split, task, with_, limit, out) -> None:
    """Make predictions for evaluate: a baseline's, or your model's."""
    from tqdm import tqdm

    check_config(config)
    if task not in TASKS:
        raise BuildError(f"unknown --task {task!r}; choose from {', '.join(TASKS)}")
    check_output_file(out, "--out")
    rows = sorted(split_rows(data, config, split), key=lambda r: r["id"])[:limit]
    train = split_rows(data, config, "train") if with_ == "nearest" else []
    predict = predictor(with_, train, task)
    lines = []
    for row in tqdm(rows, unit="row"):
        made = predict(row, task)
        record = {"id": row["id"], **({"prediction": made} if isinstance(made, str) else made)}
        lines.append(json.dumps(record, sort_keys=True) + "\n")
    atomic_write(out, "".join(lines).encode())  # a stopped run leaves no half a file for evaluate to score
    click.echo(f"{len(rows)} predictions ({with_}) for {config}/{split} → {out}")


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "predict")
