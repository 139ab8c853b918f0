import re
import shutil
import subprocess

import pyarrow.parquet as pq
import pytest

from helpers import ROOT, build
from warp_ir_dataset import pipeline
from warp_ir_dataset.execute import Failure
from warp_ir_dataset.pipeline import ShardTask, build_shard
from warp_ir_dataset.sources import GeneratedSource
from warp_ir_dataset.validate import SAMPLE_EVERY, ValidationPlan


def test_sample_plan_checks_one_row_in_twenty_in_every_shard():
    plan = ValidationPlan("sample")
    for shard in range(30):
        picked = [slot for slot in range(1000) if plan.selects(3, shard, slot)]
        assert len(picked) == 1000 // SAMPLE_EVERY
    offsets = {next(s for s in range(SAMPLE_EVERY) if plan.selects(3, shard, s)) for shard in range(30)}
    assert len(offsets) > 1  # the offset is seeded, not fixed
    assert not any(ValidationPlan("none").selects(0, 0, s) for s in range(100))
    assert all(ValidationPlan("all").selects(0, 0, s) for s in range(100))


def break_the_third_kernel(monkeypatch) -> dict:
    """Makes the third kernel the pipeline generates code for fail to compile; returns its id once known."""
    real_kernel_row = pipeline.kernel_row
    calls = {"n": 0, "broken": None}

    def kernel_row_breaking_the_third(spec, dev, **kw):
        row, code = real_kernel_row(spec, dev, **kw)
        calls["n"] += 1
        if calls["n"] == 3:
            calls["broken"] = row["id"]
            code = type(code)(**{**code.__dict__, "module_source": code.module_source + "\n#error injected by the test\n"})
        return row, code

    monkeypatch.setattr(pipeline, "kernel_row", kernel_row_breaking_the_third)
    # A cpu row of a generated kernel is compiled by its launch (stage 4), from its source: the
    # broken kernel's launch fails as its compile would.
    real_run_kernels = pipeline.run_kernels

    def run_kernels_failing_the_broken(requests, *a, **kw):
        results = real_run_kernels([r for r in requests if r.module_name != f"wirds_{calls['broken']}"], *a, **kw)
        return [Failure("clang-error", "error: injected by the test") if r.module_name == f"wirds_{calls['broken']}" else results.pop(0) for r in requests]

    monkeypatch.setattr(pipeline, "run_kernels", run_kernels_failing_the_broken)
    return calls


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_broken_code_is_rejected_with_its_reason_and_replaced(monkeypatch, device):
    calls = break_the_third_kernel(monkeypatch)
    task = ShardTask(device, GeneratedSource(5), 0, 6, "test", ValidationPlan("all"))
    progress = []
    result = build_shard(task, lambda rows, checked: progress.append((rows, checked)))
    table = result.table
    assert table.num_rows == 6
    assert set(table.column("validation").to_pylist()) == {"executed"}  # compiled, then launched on the cpu
    assert calls["broken"] not in table.column("id").to_pylist()
    assert [r["id"] for r in result.rejects] == [calls["broken"]]
    reject = result.rejects[0]
    assert reject["reason"] == ("clang-error" if device == "cpu" else "nvrtc-error")
    assert "injected by the test" in reject["message"] and reject["slot"] == 2 and reject["seed"] is not None
    assert result.counts.rejected == 1 and result.counts.validated == 7
    # the progress line moves while the compiler works: rows built first, then rows compiled
    assert progress[:6] == [(n, 0) for n in range(1, 7)] and progress[-1] == (6, 6), progress


def _ptxas_checks(ptx: str, arch: str, tmp_path) -> subprocess.CompletedProcess:
    # Warp's NVRTC writes a newer PTX ISA than an older ptxas knows; the code itself is sm_90.
    source = tmp_path / "row.ptx"
    source.write_text(re.sub(r"^\.version \d+\.\d+", ".version 9.0", ptx, count=1, flags=re.MULTILINE))
    return subprocess.run(["ptxas", f"-arch={arch}", str(source), "-o", str(tmp_path / "row.cubin")], capture_output=True, text=True)


@pytest.fixture(scope="module")
def ptx_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("ptx") / "d"
    build(out, "cuda", 0.15, "--validate", "all", "--ptx", "--rows-per-shard", "4", "--workers", "2")
    import pyarrow as pa

    return out, pa.concat_tables([pq.read_table(p) for p in sorted((out / "cuda").glob("*.parquet"))])


def test_cuda_build_with_ptx_compiles_every_row_and_each_ptx_is_the_rows_own(ptx_rows):
    out, table = ptx_rows
    assert table.num_rows >= 4
    assert set(table.column("validation").to_pylist()) == {"executed"}  # NVRTC compiled them; each launched on the cpu
    assert pq.read_schema(next((out / "cuda").glob("*.parquet"))).metadata[b"arch"] == b"sm_90"
    for row in table.to_pylist():
        entries = re.findall(r"^\.visible \.entry (\w+)\(", row["ptx"], re.MULTILINE)
        forward = re.search(r"void (\w+_cuda_kernel_forward)\(", row["forward_code"]).group(1)
        # A kernel that turns its backward pass off has one entry point.
        backward = [re.search(r"void (\w+_cuda_kernel_backward)\(", row["backward_code"]).group(1)] if row["backward_code"] else []
        assert sorted(entries) == sorted([forward, *backward])  # this row's kernels, nobody else's
        assert ".target sm_90" in row["ptx"] and "\0" not in row["ptx"]
        # no file of the machine that built it (debug line tables would name them)
        assert ".file" not in row["ptx"] and "/tmp" not in row["ptx"] and str(ROOT) not in row["ptx"]


def test_each_rows_ptx_is_assembled_by_a_cuda_toolkits_ptxas(ptx_rows, tmp_path):
    if not shutil.which("ptxas"):
        pytest.skip("no CUDA toolkit (ptxas) on this machine: the rows' PTX was checked by NVRTC only")
    _, table = ptx_rows
    for row in table.to_pylist():
        proc = _ptxas_checks(row["ptx"], "sm_90", tmp_path)
        assert proc.returncode == 0, proc.stderr


def test_cpu_build_validate_all_marks_every_row_compiled_and_executed(tmp_path):
    out = tmp_path / "d"
    proc = build(out, "cpu", 0.06, "--validate", "all", "--rows-per-shard", "8", "--workers", "2")
    table = pq.read_table(out / "cpu", columns=["validation", "outputs"])
    assert set(table.column("validation").to_pylist()) == {"executed"}
    assert all(outputs for outputs in table.column("outputs").to_pylist())
    assert "validated" in proc.stdout and "rows/s per compile" in proc.stdout


def test_ptx_needs_the_cuda_config(tmp_path):
    proc = build(tmp_path / "d", "cpu", 0.1, "--ptx", check=False)
    assert proc.returncode != 0 and "needs --config cuda" in proc.stderr and "Traceback" not in proc.stderr


def test_tile_layout_kernels_compile_for_both_devices():
    # Regression: a plain ``copy = tile_view`` has no adjoint in Warp 1.19 (no matching
    # ``adj_copy``); the family used to emit one in about a third of its kernels.
    from warp_ir_dataset.codegen import kernel_row
    from warp_ir_dataset.generate import generate_kernel
    from warp_ir_dataset.validate import check

    for device in ("cpu", "cuda"):
        codes = [kernel_row(generate_kernel(10_000 + seed, "tile_layout"), device)[1] for seed in range(16)]
        outcomes = check(codes, device, ValidationPlan("all"))
        assert [o.message for o in outcomes if not o.ok] == []


TWO_TRAVERSALS = """\
import warp as wp


@wp.kernel
def two_traversals(mesh: wp.uint64, bvh: wp.uint64, xs: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    p = xs[i]
    total = float(0.0)
    query = wp.mesh_query_aabb(mesh, p - wp.vec3(0.1), p + wp.vec3(0.1))
    face = int(0)
    while wp.mesh_query_next(query, face):
        total += float(face)
    bq = wp.bvh_query_aabb(bvh, p - wp.vec3(0.1), p + wp.vec3(0.1))
    item = int(0)
    while wp.bvh_query_next(bq, item):
        total += float(item)
    out[i] = total
"""


def test_cuda_validation_goes_to_machine_code_where_ptxas_limits_apply(tmp_path):
    # Each BVH traversal keeps a 32 KiB stack in static shared memory on CUDA: two in one kernel
    # give valid PTX that ptxas (and so a real GPU) refuses. Validation must catch it.
    from warp_ir_dataset import _warp
    from warp_ir_dataset.codegen import kernel_row
    from warp_ir_dataset.generate import KernelSpec
    from warp_ir_dataset.validate import check

    spec = KernelSpec(0, "test", "two_traversals", TWO_TRAVERSALS)
    code = kernel_row(spec, "cuda")[1]
    ptx = _warp.compile_unit(code.module_source, "cuda", str(tmp_path), 90)
    assert ".visible .entry" in ptx  # NVRTC's PTX alone looks fine
    (outcome,) = check([code], "cuda", ValidationPlan("all"))
    assert not outcome.ok and outcome.reason == "nvrtc-error" and "too much shared data" in outcome.message
    (with_ptx,) = check([code], "cuda", ValidationPlan("all", ptx=True))
    assert not with_ptx.ok and with_ptx.ptx is None
    (on_cpu,) = check([kernel_row(spec, "cpu")[1]], "cpu", ValidationPlan("all"))
    assert on_cpu.ok  # the CPU backend keeps the stacks per thread


def test_no_family_combines_two_shared_memory_traversals():
    from warp_ir_dataset.generate import generate_kernel

    for seed in range(1500):
        source = generate_kernel(seed, "mesh_ops" if seed % 2 else None).python_source
        mesh_traversal = "wp.mesh_query_aabb(" in source or "wp.mesh_query_sphere(" in source
        assert not (mesh_traversal and "wp.bvh_query_" in source), source


def test_unknown_cuda_arch_is_one_line(tmp_path):
    proc = build(tmp_path / "d", "cuda", 0.1, "--validate", "all", "--arch", "sm_91", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "sm_91" in proc.stderr and "sm_90" in proc.stderr
    assert not (tmp_path / "d" / "cuda").exists() or not any((tmp_path / "d" / "cuda").glob("*.parquet"))


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_compiling_leaves_nothing_in_the_temp_folder_and_a_killed_builds_files_are_removed(tmp_path):
    # NVRTC without a driver makes a ~77 MB precompiled-header folder per process in the temp
    # folder and never removes it; the build sends it to a folder of its own and removes that.
    import os
    import signal
    import subprocess
    import sys
    import time

    from helpers import ROOT, build

    temp, cache = tmp_path / "tmp", tmp_path / "warp-cache"
    temp.mkdir()
    env = {"TMPDIR": str(temp), "WARP_CACHE_PATH": str(cache)}
    build(tmp_path / "out", "cuda", 0.02, "--rows-per-shard", "10", "--workers", "2", "--validate", "all", env_extra=env)
    assert _leftovers(temp) == []
    scratch = next(cache.rglob("wirds-scratch"))
    assert _leftovers(scratch) == []  # each worker removed its own folder
    # kill -9 the whole build while it compiles: its folders stay ...
    args = [sys.executable, "-m", "warp_ir_dataset.build", "--config", "cuda", "--target-mb", "0.05", "--out", str(tmp_path / "killed"),
            "--rows-per-shard", "10", "--workers", "2", "--validate", "all", "--quiet"]
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.glob("__nvrtc_auto_pch_*") for p in scratch.iterdir()):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    left = _leftovers(scratch)
    assert left, "the killed build compiled nothing to leave behind"
    # ... until the next build's workers start: they remove what dead processes left, and only that
    unrelated = scratch / "not-a-pid"
    unrelated.mkdir()
    build(tmp_path / "killed", "cuda", 0.05, "--rows-per-shard", "10", "--workers", "2", "--validate", "all", env_extra=env)
    assert _leftovers(scratch) == ["not-a-pid"] and _leftovers(temp) == []


def test_a_build_writes_the_rows_the_compiler_rejected_beside_its_shards(tmp_path, monkeypatch, capsys):
    # The whole CLI, in this process (one worker), with the third kernel's code broken: the
    # row is replaced, and rejects-00000.jsonl on disk says which kernel failed and why.
    import json

    from warp_ir_dataset import build as build_module
    from warp_ir_dataset import scratch
    from warp_ir_dataset.cli import run_cli

    monkeypatch.setattr(scratch, "use_private_temp", lambda *a, **k: None)  # keep this process's TMPDIR
    calls = break_the_third_kernel(monkeypatch)
    out = tmp_path / "out"
    # The target keeps slot 2 inside the written rows (rejects of slots cut away are not kept).
    run_cli(build_module.main, "build", ["--config", "cpu", "--target-mb", "0.06", "--out", str(out), "--rows-per-shard", "8", "--workers", "1", "--validate", "all", "--quiet"])
    assert "1 rejected (see" in capsys.readouterr().out
    rejects = [json.loads(line) for line in (out / "cpu" / "rejects-00000.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reason"], r["slot"]) for r in rejects] == [(calls["broken"], "clang-error", 2)]
    assert "injected by the test" in rejects[0]["message"]
    ids = [i for p in sorted((out / "cpu").glob("*.parquet")) for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()]
    assert calls["broken"] not in ids and len(ids) == len(set(ids))


def test_sweep_removes_the_folders_of_ended_and_zombie_processes_only(tmp_path):
    # A worker killed with its parent can stay a zombie (in a container nothing may reap it):
    # it still answers signals, yet will never remove its own folder.
    import os
    import time

    from warp_ir_dataset import scratch

    root = scratch.root(str(tmp_path))
    zombie = subprocess.Popen(["true"])  # ends at once; not waited for, so a zombie
    running = subprocess.Popen(["sleep", "30"])
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not scratch._zombie(zombie.pid):
            time.sleep(0.05)
        ended = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000  # no such process
        for pid in (zombie.pid, running.pid, os.getpid(), ended):
            (root / str(pid) / "pch").mkdir(parents=True)
        (root / "not-a-pid").mkdir()
        removed = scratch.sweep(root)
        assert sorted(p.name for p in removed) == sorted([str(zombie.pid), str(ended)])
        assert _leftovers(root) == sorted([str(running.pid), str(os.getpid()), "not-a-pid"])
    finally:
        running.kill()
        running.wait()
        zombie.wait()
