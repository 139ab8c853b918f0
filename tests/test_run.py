"""`python -m warp_ir_dataset.run`: executed rows launched again from the rows alone agree with what
they recorded, and a row whose recorded outputs are wrong is found."""
from __future__ import annotations

import importlib.util
import json
import shutil

from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers import ROOT, build, examples, run_module
from warp_ir_dataset import _warp
from warp_ir_dataset.execute import value_records
from warp_ir_dataset.replay import differences, needed_rtol
from warp_ir_dataset.write import encode_shard, read_shard_metadata


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "d"
    build(out, "cpu", 0.06, "--validate", "all", "--rows-per-shard", "8", "--workers", "2")
    return out


def test_every_executed_row_agrees_when_launched_again(executed):
    proc = run_module("warp_ir_dataset.run", str(executed), "--config", "cpu", "--split", "train", check=True)
    rows = sum(pq.read_metadata(p).num_rows for p in (executed / "cpu").glob("train-*.parquet"))
    assert f"{rows} rows, {rows} agree with what they recorded, 0 differ" in proc.stdout, proc.stdout


def test_a_row_whose_outputs_are_wrong_is_one_line_and_exit_1(executed, tmp_path):
    folder = tmp_path / "d"
    shutil.copytree(executed, folder)
    path = folder / "cpu" / "train-00000.parquet"
    rows = pq.read_table(path).to_pylist()
    victim = next(r for r in rows if any(o["floats"] for o in r["outputs"]))
    output = next(o for o in victim["outputs"] if o["floats"])
    at = next(i for i, v in enumerate(output["floats"]) if v == v)  # a written element (not NaN)
    output["floats"][at] += 1.0
    from warp_ir_dataset.schema import rows_to_table

    path.write_bytes(encode_shard(rows_to_table(rows), read_shard_metadata(path)))
    proc = run_module("warp_ir_dataset.run", str(folder), "--config", "cpu", "--split", "train", "--json", str(tmp_path / "verdicts.json"))
    assert proc.returncode == 1
    differing = [line for line in proc.stdout.splitlines() if line.startswith(victim["id"])]
    assert len(differing) == 1 and f"outputs {output['name']}: 1 of" in differing[0], proc.stdout
    assert "1 differ" in proc.stdout
    # the tolerance each row needs: none for the others (a cpu relaunch gives the same bits), and
    # for the victim the one wrong element's error over its recorded value
    verdicts = {v["id"]: v for v in json.loads((tmp_path / "verdicts.json").read_text())["verdicts"]}
    assert len(verdicts) == len(rows) and verdicts[victim["id"]]["differences"] == [differing[0].split("): ", 1)[1]]
    recorded = np.float32(output["floats"][at])
    expected = (abs(float(np.float32(recorded - 1.0)) - float(recorded)) - 1e-6) / abs(float(recorded))
    assert verdicts[victim["id"]]["needed_rtol"] == pytest.approx(expected, rel=1e-6)
    assert all(v["needed_rtol"] == 0.0 and not v["differences"] for k, v in verdicts.items() if k != victim["id"])
    # benchmarks/differential.py reads such files into agreement per family at a ladder of tolerances
    spec = importlib.util.spec_from_file_location("differential", ROOT / "benchmarks" / "differential.py")
    differential = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(differential)
    table = differential.agreement(differential.load([tmp_path / "verdicts.json"])[0])
    needed = verdicts[victim["id"]]["needed_rtol"]
    assert table["all"]["rows"] == len(rows) and table["all"]["rtol<=0"] == len(rows) - 1
    for t in differential.LADDER:
        assert table[victim["family"]][f"rtol<={t:g}"] == sum(r["family"] == victim["family"] for r in rows) - (needed > t)


def test_bad_arguments_are_one_line(tmp_path):
    proc = run_module("warp_ir_dataset.run", str(tmp_path), "--config", "cpu")
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0 and "no test shards" in proc.stderr
    proc = run_module("warp_ir_dataset.run", str(tmp_path), "--config", "cpu", "--workers", "0")
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0 and "--workers must be at least 1" in proc.stderr
    proc = run_module("warp_ir_dataset.run", str(tmp_path / "nowhere"), "--config", "cpu")
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0 and "no such dataset folder" in proc.stderr
    proc = run_module("warp_ir_dataset.run", str(tmp_path), "--config", "cpu", "--json", str(tmp_path))
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0 and "--json" in proc.stderr and "is a folder" in proc.stderr


@pytest.mark.skipif(not _warp.cuda_available(), reason="needs a GPU: the differential test of Warp's cuda backend against the cpu")
def test_the_cuda_backend_agrees_with_the_cpu_on_a_gpu(tmp_path):
    out = tmp_path / "d"
    build(out, "cuda", 0.06, "--validate", "all", "--rows-per-shard", "8", "--workers", "2")
    proc = run_module("warp_ir_dataset.run", str(out), "--config", "cuda", "--split", "train", "--device", "cuda", "--rtol", "1e-4", "--atol", "1e-5")
    assert " 0 differ" in proc.stdout, proc.stdout


finite32 = st.floats(-1e6, 1e6, width=32)


@settings(max_examples=examples(60))
@example(recorded=[1.1754943508222875e-38], noise=[0.0078125] + [0.0] * 7, atol=0.0)  # float32's smallest normal: compared in float32, its error rounded away
@given(recorded=st.lists(finite32, min_size=1, max_size=8), noise=st.lists(st.floats(-0.0078125, 0.0078125, width=32), min_size=8, max_size=8),
       atol=st.sampled_from([0.0, 1e-6, 1e-3]))
def test_the_tolerance_a_row_needs_is_the_smallest_under_which_it_agrees(recorded, noise, atol):
    a = np.array(recorded, dtype=np.float32)
    b = (a * (1 + np.array(noise[: len(a)], dtype=np.float32))).astype(np.float32)
    row = {"outputs": value_records({"out": a}), "input_grads": []}
    relaunch = SimpleNamespace(outputs={"out": b}, input_grads={})
    needed = needed_rtol(row, relaunch, atol)
    if needed == float("inf"):  # only where an element that differs was recorded as 0
        assert ((a == 0) & (np.abs(b - a) > atol)).any()
        return
    assert differences(row, relaunch, rtol=needed * (1 + 1e-9) + 1e-12, atol=atol) == []
    if needed > 1e-9:
        assert differences(row, relaunch, rtol=needed * (1 - 1e-6), atol=atol) != []
