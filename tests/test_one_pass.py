"""Both configs in one pass: each kernel built by Warp once, each config's shards its own."""
import hashlib
import json
import shutil

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import build, examples, run_module, snapshot

from warp_ir_dataset import codegen
from warp_ir_dataset import pipeline
from warp_ir_dataset.pipeline import ShardTask, build_shard, build_shards
from warp_ir_dataset.sources import GeneratedSource
from warp_ir_dataset.validate import Outcome, ValidationPlan


def _tasks(seed: int, index: int, limits: dict, mode: str = "none"):
    return tuple(ShardTask(c, GeneratedSource(seed), index, 16, f"test {c}", ValidationPlan(mode), limits[c]) for c in ("cpu", "cuda"))


def _same(shared, own):
    for a, b in zip(shared, own):
        assert a.full.files == b.full.files, a.task.config
        assert a.rejects == b.rejects and a.counts.rows == b.counts.rows, a.task.config


@settings(max_examples=examples(3), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), cuda_limit=st.sampled_from([None, 5]))
def test_configs_whose_candidates_differ_still_get_their_own_rows(seed, cuda_limit, monkeypatch):
    # Make the configs disagree about candidates: a code-size cap that the two devices' code
    # crosses at different kernels, and a stand-in compiler that rejects rows by their code
    # (so a slot is refilled for one config and not the other).
    monkeypatch.setattr(GeneratedSource, "max_code_chars", 21_000)  # about the median row

    def fake_check(codes, device, plan):
        return [Outcome(ok=hashlib.sha256(c.forward_code.encode()).digest()[0] >= 60, reason="injected", message="") for c in codes]

    monkeypatch.setattr(pipeline, "check", fake_check)
    tasks = _tasks(seed, 1, {"cpu": None, "cuda": cuda_limit}, mode="all")
    shared = build_shards(tasks)
    own = tuple(build_shard(t) for t in tasks)
    _same(shared, own)
    assert any(r.counts.oversized for r in own) or any(r.rejects for r in own)  # the configs did diverge somewhere


def test_one_pass_builds_each_kernel_once(monkeypatch):
    builds = []
    real = codegen.kernel_rows

    def counting(spec, with_module, **kw):
        builds.append(tuple(with_module))
        return real(spec, with_module, **kw)

    monkeypatch.setattr(codegen, "kernel_rows", counting)
    monkeypatch.setattr(pipeline, "kernel_rows", counting)
    tasks = _tasks(5, 0, {"cpu": None, "cuda": None})
    shared = build_shards(tasks)
    shared_builds = list(builds)
    builds.clear()
    own = tuple(build_shard(t) for t in tasks)
    _same(shared, own)
    assert len(builds) >= 32  # on their own, every row of each config is a build of its own
    assert len(shared_builds) <= 16 + 3 and all(devices == ("cpu", "cuda") for devices in shared_builds[:10])


def test_config_all_equals_one_build_per_config_and_resumes_a_partial_config(tmp_path):
    common = ("--rows-per-shard", "10", "--seed", "4", "--workers", "2", "--validate", "sample")
    # One config already part-built at a smaller target: the pass resumes it and starts the
    # other, as two builds of their own would.
    build(tmp_path / "apart", "cpu", 0.1, *common)
    shutil.copytree(tmp_path / "apart", tmp_path / "one")
    for config in ("cpu", "cuda"):
        build(tmp_path / "apart", config, 0.2, *common)
    summary = tmp_path / "summary.json"
    proc = run_module(
        "warp_ir_dataset.build", "--config", "all", "--target-mb", "0.2", "--out", str(tmp_path / "one"), *common,
        "--summary-json", str(summary), check=True,
    )
    for config in ("cpu", "cuda"):
        apart, one = snapshot(tmp_path / "apart" / config), snapshot(tmp_path / "one" / config)
        assert len(apart) >= 3 and one == apart, config
    report = json.loads(summary.read_text())
    for config in ("cpu", "cuda"):
        rows = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "one" / config).glob("*.parquet"))
        assert report["configs"][config]["rows"] == rows
        assert f"{config}: {rows} rows in" in proc.stdout
    assert "build cpu+cuda: cpu " in proc.stderr and "; cuda " in proc.stderr


def test_bad_config_lists_are_one_line(tmp_path):
    for config, message in (("cpu,cpu", "named twice"), ("cpu,gpu", "unknown config 'gpu'"), ("", "unknown config")):
        proc = build(tmp_path / "x", config, 0.1, check=False)
        assert proc.returncode != 0 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "x").exists()
