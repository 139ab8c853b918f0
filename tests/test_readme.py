"""The README's promises that code can check."""
import random
import re
import subprocess
from pathlib import Path

from warp_ir_dataset import _warp, families

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_documented_new_family_example_builds_with_warp(monkeypatch):
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "@family(" in b)
    code = block.replace("from . import", "from warp_ir_dataset.families import").replace("from ._kit", "from warp_ir_dataset.families._kit")
    monkeypatch.setattr(families, "family", lambda name, weight=1.0: (lambda fn: fn))  # keep the real registry as it is
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    kernel = namespace["my_family"](random.Random(1))
    with _warp.LoadedKernel(kernel.python_source, "readme_example") as loaded:
        assert loaded.codegen("cpu", with_module=False).forward_code


def test_ci_runs_the_readme_test_command():
    assert "./dev test" in README and "./dev test" in (ROOT / ".ci" / "run").read_text()
    out = subprocess.run(["bash", str(ROOT / "dev"), "help"], capture_output=True, text=True)
    assert out.returncode == 2 and "./dev build" in out.stdout


def test_the_documented_ten_lines_rerun_executed_sample_rows():
    import json

    import pyarrow.parquet as pq

    block = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if 'row["contract"]' in b)
    rows = [r for p in sorted((ROOT / "data" / "samples" / "cpu").glob("t*.parquet")) for r in pq.read_table(p).to_pylist() if r["validation"] == "executed"]
    simple = [r for r in rows if all(a["kind"] == "array" and not a["fields"] or a["kind"] == "value" and a["dtype"] in ("float32", "int32", "uint32", "bool")
                                     for a in json.loads(r["contract"])["args"])]
    assert len(simple) >= 5, len(simple)
    _warp.init()
    for row in simple:
        exec(compile(block, "README.md", "exec"), {"row": row})  # its last line asserts the outputs match
