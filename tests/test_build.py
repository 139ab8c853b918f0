import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from helpers import ROOT, build, comparable, run_module, snapshot

from warp_ir_dataset.write import read_shard_metadata

RPS = ("--rows-per-shard", "40")


def parquet_bytes(folder):
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


def test_size_target_is_met_within_5_percent_above(small_dataset):
    from conftest import SMALL

    for config in ("cpu", "cuda"):
        total = parquet_bytes(small_dataset / config)
        target = SMALL["target_mb"] * 1e6
        assert target <= total <= 1.05 * target, (config, total)
        assert len(list((small_dataset / config).glob("train-*.parquet"))) >= 2  # exercised multi-shard planning


def test_same_seed_gives_byte_identical_shards_whatever_the_workers(tmp_path, small_dataset):
    from conftest import SMALL

    out = tmp_path / "again"
    build(out, "cpu", SMALL["target_mb"], "--rows-per-shard", str(SMALL["rows_per_shard"]), "--seed", str(SMALL["seed"]), "--workers", "1", "--validate", "sample")
    assert snapshot(out / "cpu") == snapshot(small_dataset / "cpu")
    other = tmp_path / "other-seed"
    build(other, "cpu", SMALL["target_mb"], "--rows-per-shard", "40", "--seed", "8", "--workers", "1")
    ids = lambda f: set(pq.read_table(f / "cpu", columns=["id"]).column("id").to_pylist())  # noqa: E731
    assert not ids(other) & ids(small_dataset)


def test_no_duplicate_sources_and_cpu_cuda_rows_pair_up(small_dataset):
    cpu = pq.read_table(small_dataset / "cpu", columns=["id", "python_source", "device"])
    cuda = pq.read_table(small_dataset / "cuda", columns=["id", "python_source", "device"])
    for t, device in ((cpu, "cpu"), (cuda, "cuda")):
        assert len(set(t.column("python_source").to_pylist())) == t.num_rows
        assert set(t.column("device").to_pylist()) == {device}
    first_cpu = pq.read_table(small_dataset / "cpu" / "train-00000.parquet").column("id").to_pylist()
    first_cuda = pq.read_table(small_dataset / "cuda" / "train-00000.parquet").column("id").to_pylist()
    n = min(len(first_cpu), len(first_cuda))
    assert n > 5 and first_cpu[:n] == first_cuda[:n]  # same seeds, same kernels, both devices


def test_splits_are_disjoint_by_structure(small_dataset):
    from warp_ir_dataset.fingerprint import fingerprint

    for config in ("cpu", "cuda"):
        fps = {
            split: {fingerprint(s) for f in (small_dataset / config).glob(f"{split}-*.parquet") for s in pq.read_table(f).column("python_source").to_pylist()}
            for split in ("train", "test")
        }
        assert fps["train"] and not fps["train"] & fps["test"]


def test_rerun_changes_nothing(tmp_path):
    out = tmp_path / "d"
    build(out, "cpu", 0.1, *RPS, "--workers", "1")
    before = {p: p.stat().st_mtime_ns for p in (out / "cpu").glob("*.parquet")}
    content = snapshot(out)
    proc = build(out, "cpu", 0.1, *RPS, "--workers", "1")
    assert "0 rows built now" in proc.stdout
    assert snapshot(out) == content
    assert {p: p.stat().st_mtime_ns for p in (out / "cpu").glob("*.parquet")} == before


@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupted_build_resumes_to_the_uninterrupted_result(tmp_path, workers):
    reference = tmp_path / "ref"
    build(reference, "cpu", 0.25, "--rows-per-shard", "5", "--workers", workers)
    out = tmp_path / "resumed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "warp_ir_dataset.build", "--config", "cpu", "--target-mb", "0.25", "--out", str(out), "--rows-per-shard", "5", "--workers", workers, "--quiet", "--validate", "none"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "cpu").glob("train-*.parquet"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the harshest interruption, workers included: no cleanup at all
    proc.wait()
    kept = sorted(p.name for p in (out / "cpu").glob("train-*.parquet"))
    assert len(list((reference / "cpu").glob("*.parquet"))) >= 4
    assert 2 <= len(kept) < len(list((reference / "cpu").glob("*.parquet")))
    kept_bytes = {n: (out / "cpu" / n).read_bytes() for n in kept}
    resumed = build(out, "cpu", 0.25, "--rows-per-shard", "5", "--workers", workers)
    assert snapshot(out / "cpu") == snapshot(reference / "cpu")
    assert all((out / "cpu" / n).read_bytes() == b for n, b in kept_bytes.items())
    rows_total = sum(pq.read_metadata(p).num_rows for p in (out / "cpu").glob("*.parquet"))
    built_now = int(resumed.stdout.split("(")[1].split(" rows built now")[0])
    assert built_now == rows_total - 5 * len(kept)  # nothing generated twice


def test_growing_the_target_extends_the_cut_last_shard(tmp_path):
    out = tmp_path / "grow"
    build(out, "cpu", 0.1, *RPS, "--workers", "1")
    build(out, "cpu", 0.2, *RPS, "--workers", "1")
    ref = tmp_path / "ref"
    build(ref, "cpu", 0.2, *RPS, "--workers", "1")
    assert snapshot(out / "cpu") == snapshot(ref / "cpu")


def one_line_error(proc):
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "rocm", "--target-mb", "1"], "unknown config"),
        (["--config", "cpu", "--target-mb", "0"], "positive"),
        (["--config", "cpu", "--target-mb", "-3"], "positive"),
        (["--config", "cpu", "--target-mb", "abc"], "target-mb"),
        (["--config", "cpu"], "target-mb"),
        (["--config", "cpu", "--target-mb", "1", "--max-code-chars", "0"], "--max-code-chars must be at least 1"),
    ],
)
def test_bad_arguments_give_one_clear_line(tmp_path, args, message):
    line = one_line_error(run_module("warp_ir_dataset.build", *args, "--out", str(tmp_path / "o")))
    assert message in line
    assert not (tmp_path / "o").exists()


def test_unwritable_out_gives_one_clear_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_line_error(run_module("warp_ir_dataset.build", "--config", "cpu", "--target-mb", "0.05", "--out", str(blocker / "sub")))
    assert "cannot write" in line and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "other-seed"])
def test_bad_shards_in_the_output_are_refused_and_kept(tmp_path, kind):
    out = tmp_path / "d"
    build(out, "cpu", 0.05, *RPS, "--workers", "1")
    shard = out / "cpu" / "train-00000.parquet"
    if kind == "corrupt":
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    elif kind == "foreign":
        import pyarrow as pa

        pq.write_table(pa.table({"x": [1, 2, 3]}), shard)
    before = snapshot(out)
    extra = ("--seed", "99") if kind == "other-seed" else ()
    line = one_line_error(build(out, "cpu", 0.1, *RPS, "--workers", "1", *extra, check=False))
    assert "-00000.parquet" in line if kind == "other-seed" else "train-00000.parquet" in line
    assert snapshot(out) == before


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_a_limited_last_shard_is_the_full_shards_prefix(config):
    # The build computes only the slots its last shard's cut should need; the files must be
    # those a full shard cut at the same place would give.
    from warp_ir_dataset.pipeline import ShardTask, build_shard, encode, smallest_prefix_reaching, text_chars
    from warp_ir_dataset.sources import GeneratedSource
    from warp_ir_dataset.validate import BATCH, ValidationPlan

    full_task = ShardTask(config, GeneratedSource(11), 2, 30, "test", ValidationPlan("none"))
    full = build_shard(full_task)
    limited = build_shard(ShardTask(config, GeneratedSource(11), 2, 30, "test", ValidationPlan("none"), slot_limit=12))
    assert full.complete and not limited.complete and limited.exact_prefix
    assert comparable(limited.table.to_pylist()) == comparable(full.table.slice(0, 12).to_pylist())
    needed = smallest_prefix_reaching(full, 1, 10**9).size  # a cut within the limited rows
    cut_full = smallest_prefix_reaching(full, needed + 1, 10**9)
    cut_limited = smallest_prefix_reaching(limited, needed + 1, 10**9)
    assert cut_full.slots <= 12 and cut_full.files == cut_limited.files
    # A goal in characters of code stops at the first slot that reaches it.
    goal = text_chars(full.table.slice(0, 7)) - 1
    by_text = build_shard(ShardTask(config, GeneratedSource(11), 2, 30, "test", ValidationPlan("none"), text_goal=goal))
    assert comparable(by_text.table.to_pylist()) == comparable(full.table.slice(0, 7).to_pylist()) and by_text.exact_prefix
    # A goal in encoded bytes is looked at every BATCH slots: it stops at the first such slot
    # whose rows reach it.
    goal = encode(full_task, full.table, full.splits, 9, None).size
    by_bytes = build_shard(ShardTask(config, GeneratedSource(11), 2, 30, "test", ValidationPlan("none"), byte_goal=goal))
    assert comparable(by_bytes.table.to_pylist()) == comparable(full.table.slice(0, BATCH).to_pylist()) and by_bytes.exact_prefix


def test_the_last_shard_stops_a_few_rows_past_its_cut(tmp_path, monkeypatch):
    # Once a shard of the build is measured, the last one stops where its code text should
    # reach the target's remaining bytes: few of its rows are built only to be cut away.
    from warp_ir_dataset import build as build_module
    from warp_ir_dataset import engines
    from warp_ir_dataset.cli import run_cli

    built = {}
    real_build_shards = engines.build_shards

    def spy(job, on_row=None):
        results = real_build_shards(job, on_row)
        for task, result in zip(job, results):
            built[task.shard_index] = (task.text_goal, result.table.num_rows)
        return results

    monkeypatch.setattr(engines, "build_shards", spy)
    out = tmp_path / "out"
    run_cli(build_module.main, "build", ["--config", "cpu", "--target-mb", "1.2", "--out", str(out), "--rows-per-shard", "80", "--validate", "none", "--workers", "1", "--quiet"])
    last = max(built)
    goal, rows_built = built[last]
    kept = pq.read_metadata(out / "cpu" / f"train-{last:05d}.parquet").num_rows + sum(
        pq.read_metadata(p).num_rows for p in (out / "cpu").glob(f"test-{last:05d}.parquet")
    )
    assert goal is not None and all(g is None for i, (g, _) in built.items() if i != last), built
    assert kept <= rows_built <= kept * 1.15 + 2, (kept, rows_built)


def test_the_driver_does_not_import_warp_and_records_the_installed_version():
    # Workers build shards; the process that schedules and writes them should start them at
    # once, not after importing Warp for nothing. The version it records is Warp's own.
    code = (
        "import sys, warp_ir_dataset.build as b, warp_ir_dataset._warp as w; "
        "assert 'warp' not in sys.modules, 'driver imported warp'; "
        "import warp; print(w.WARP_VERSION == warp.__version__)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_progress_counts_rows_kept_never_more_than_the_build_ends_with(tmp_path):
    # Not a terminal: plain lines (a log), ending with the rows actually kept.
    import re

    proc = run_module(
        "warp_ir_dataset.build", "--config", "cpu", "--target-mb", "0.12", "--out", str(tmp_path), "--rows-per-shard", "40",
        "--workers", "2", "--validate", "none", check=True,
    )
    shown = [int(n) for n in re.findall(r"(\d+) rows kept", proc.stderr)]
    final = int(re.search(r"cpu: (\d+) rows in", proc.stdout).group(1))
    assert shown and shown[-1] == final and max(shown) <= final
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr  # no terminal control codes in a log


def test_a_full_disk_is_one_line_keeps_whole_files_only_and_the_same_command_resumes(tmp_path, monkeypatch, capsys):
    # The disk fills while the third file is written (fsync refuses): one line naming the file
    # and what to do; no partial file is left; after space is freed the same command finishes
    # with exactly the files of a build that never failed.
    import errno

    from warp_ir_dataset import build as build_module
    from warp_ir_dataset import scratch, write
    from warp_ir_dataset.cli import run_cli

    monkeypatch.setattr(scratch, "use_private_temp", lambda *a, **k: None)  # keep this process's TMPDIR
    small_shards = ("--rows-per-shard", "10")  # several shard files before the target
    args = ["--config", "cpu", "--target-mb", "0.3", "--out", str(tmp_path / "out"), *small_shards, "--workers", "1", "--validate", "none", "--quiet"]
    real_fsync, calls = write.os.fsync, {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == 5:  # (file, folder) per write: the third file's own fsync
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(write.os, "fsync", fsync)
    with pytest.raises(SystemExit) as stop:
        run_cli(build_module.main, "build", args)
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "run the same command" in err[0] and ".parquet" in err[0]
    assert not [p for p in (tmp_path / "out" / "cpu").iterdir() if ".tmp-" in p.name]  # no partial file left
    kept = sorted((tmp_path / "out" / "cpu").glob("*.parquet"))
    assert kept and all(pq.read_metadata(p).num_rows for p in kept)  # what is there is whole
    monkeypatch.setattr(write.os, "fsync", real_fsync)
    run_cli(build_module.main, "build", args)  # returns: finished
    build(tmp_path / "ref", "cpu", 0.3, *small_shards, "--workers", "1")
    assert snapshot(tmp_path / "out" / "cpu") == snapshot(tmp_path / "ref" / "cpu")


@pytest.mark.parametrize("damage", ["truncated", "inside"])
def test_a_damaged_shard_says_how_to_rebuild_it_and_that_works(tmp_path, damage):
    out = tmp_path / "d"
    build(out, "cpu", 0.1, *RPS, "--workers", "1")
    reference = snapshot(out)
    shard = out / "cpu" / "train-00000.parquet"
    data = bytearray(shard.read_bytes())
    if damage == "truncated":
        data = data[:100]
    else:  # bytes of a data page changed, the footer intact: only the page checksums tell
        middle = len(data) // 3
        data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
    shard.write_bytes(bytes(data))
    if damage == "inside":
        assert pq.read_metadata(shard).num_rows  # the footer alone does not show it
    line = one_line_error(build(out, "cpu", 0.1, *RPS, "--workers", "1", check=False))
    assert "train-00000.parquet" in line and "delete it and run the same command" in line
    shard.unlink()
    build(out, "cpu", 0.1, *RPS, "--workers", "1")
    assert snapshot(out) == reference


@pytest.mark.parametrize(
    "extra, key",
    [
        (("--seed", "3"), "seed"),
        (("--rows-per-shard", "41"), "rows_per_shard"),
        (("--validate", "sample"), "validate"),
        (("--validate", "none", "--ptx"), "ptx"),
        (("--max-code-chars", "50000"), "max_code_chars"),
    ],
)
def test_a_folder_built_with_other_settings_is_refused_naming_the_setting(tmp_path, extra, key):
    out = tmp_path / "d"
    config = "cuda" if "--ptx" in extra else "cpu"
    build(out, config, 0.03, *RPS, "--workers", "1")
    before = snapshot(out)
    args = [a for a in (*RPS, "--workers", "1") if a not in extra[:1]]
    if extra[0] == "--rows-per-shard":
        args = ["--workers", "1"]
    line = one_line_error(build(out, config, 0.1, *args, *extra, check=False))
    assert f"built with {key}=" in line and "use another --out" in line
    assert snapshot(out) == before


def test_the_summary_json_says_what_was_built(tmp_path):
    import json

    out = tmp_path / "d"
    summary = tmp_path / "summary.json"
    build(out, "cpu", 0.05, *RPS, "--workers", "1", "--summary-json", str(summary))
    report = json.loads(summary.read_text())
    assert report["rows"] == sum(pq.read_metadata(p).num_rows for p in (out / "cpu").glob("*.parquet"))
    assert report["config"] == "cpu" and report["workers"] == 1 and report["rows_per_second"] > 0


def test_ctrl_c_is_one_line_keeps_finished_shards_and_the_same_command_resumes(tmp_path):
    reference = tmp_path / "ref"
    build(reference, "cpu", 0.25, "--rows-per-shard", "5", "--workers", "2")
    out = tmp_path / "interrupted"
    args = [sys.executable, "-m", "warp_ir_dataset.build", "--config", "cpu", "--target-mb", "0.25", "--out", str(out), "--rows-per-shard", "5", "--workers", "2", "--quiet", "--validate", "none"]
    # A suite started in the background (`cmd &` in a script) runs with SIGINT ignored, which
    # the build would inherit: give it a terminal's default, as a user's build has.
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "cpu").glob("train-*.parquet"))) < 1:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
    _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0] and "run the same command" in lines[0], err
    assert not list((out / "cpu").glob(".*.tmp-*"))
    build(out, "cpu", 0.25, "--rows-per-shard", "5", "--workers", "2")
    assert snapshot(out / "cpu") == snapshot(reference / "cpu")


@pytest.mark.parametrize("key", ["generator_version", "warp_version"])
def test_shards_of_another_generator_or_warp_version_are_refused(tmp_path, key):
    # As if an older release had written the folder: only the recorded version differs.
    from warp_ir_dataset.write import encode_shard

    out = tmp_path / "d"
    build(out, "cpu", 0.05, *RPS, "--workers", "1")
    shard = out / "cpu" / "train-00000.parquet"
    table = pq.read_table(shard)
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items() if k != b"ARROW:schema"}
    shard.write_bytes(encode_shard(table.replace_schema_metadata(None), {**meta, key: "0.0"}))
    before = snapshot(out)
    line = one_line_error(build(out, "cpu", 0.1, *RPS, "--workers", "1", check=False))
    assert f"built with {key}=0.0" in line and "use another --out" in line
    assert snapshot(out) == before


def test_a_cuda_folder_built_for_another_arch_is_refused(tmp_path):
    out = tmp_path / "d"
    build(out, "cuda", 0.05, *RPS, "--workers", "1", "--arch", "sm_80")
    line = one_line_error(build(out, "cuda", 0.1, *RPS, "--workers", "1", check=False))
    assert "built with arch=sm_80, this build uses arch=sm_90" in line


def test_a_limited_last_shard_with_a_rejected_row_is_built_again_in_full(tmp_path, monkeypatch):
    # Compiling is slow: a stand-in for the compiler rejects about one row in five, by its code.
    import hashlib

    from warp_ir_dataset import build as build_module
    from warp_ir_dataset import engines, pipeline
    from warp_ir_dataset.cli import run_cli
    from warp_ir_dataset.validate import Outcome

    from warp_ir_dataset.contract import Contract
    from warp_ir_dataset.execute import Behaviour, Failure

    def fake_check(codes, device, plan):
        return [Outcome(ok=hashlib.sha256(c.forward_code.encode()).digest()[0] >= 52, reason="injected", message="injected") for c in codes]

    def fake_run_kernels(requests, *a, **kw):  # a cpu row is compiled by its launch
        return [Behaviour(Contract((1,), ()), {}, {}) if hashlib.sha256(r.python_source.encode()).digest()[0] >= 52 else Failure("injected", "injected") for r in requests]

    tasks = []
    real_build_shards = engines.build_shards

    def spy(job, on_row=None):
        tasks.extend((task.shard_index, task.slot_limit or task.text_goal) for task in job)  # a limit, or None: whole
        return real_build_shards(job, on_row)

    monkeypatch.setattr(pipeline, "check", fake_check)
    monkeypatch.setattr(pipeline, "run_kernels", fake_run_kernels)
    monkeypatch.setattr(engines, "build_shards", spy)
    common = ["--config", "cpu", "--rows-per-shard", "20", "--validate", "all", "--workers", "1", "--quiet"]
    # the target puts the cut inside shard 1 before a row the stand-in rejects (found for
    # generator 9's rows: the first assertion fails when a generator change moves it)
    run_cli(build_module.main, "build", ["--target-mb", "0.2", "--out", str(tmp_path / "small"), *common])
    last = max(i for i, _ in tasks)
    assert (last, None) in tasks and any(i == last and n is not None for i, n in tasks), tasks  # limited, then whole
    rejects = [p for p in (tmp_path / "small" / "cpu").glob("rejects-*.jsonl")]
    assert rejects  # rows were replaced after "validation"
    # The written last shard is the smallest prefix of the whole shard that reaches the target.
    run_cli(build_module.main, "build", ["--target-mb", "0.3", "--out", str(tmp_path / "large"), *common])
    ids = lambda folder: pq.read_table(folder / "cpu" / f"train-{last:05d}.parquet", columns=["id"]).column("id").to_pylist()  # noqa: E731
    small, large = ids(tmp_path / "small"), ids(tmp_path / "large")
    assert small and small == large[: len(small)] and len(small) < len(large)


def test_a_validated_build_compiles_and_launches_only_about_the_rows_its_last_shard_keeps(tmp_path, monkeypatch):
    # Compiling is the dear part of a build: the last shard verifies its slots batch by batch
    # and stops once the rows kept reach the bytes its cut needs, not at a guessed slot count.
    from warp_ir_dataset import build as build_module
    from warp_ir_dataset import pipeline
    from warp_ir_dataset.cli import run_cli
    from warp_ir_dataset.contract import Contract
    from warp_ir_dataset.execute import Behaviour
    from warp_ir_dataset.validate import BATCH

    launched = []

    def fake_run_kernels(requests, *a, **kw):  # a cpu row is compiled by its launch
        launched.extend(requests)
        return [Behaviour(Contract((1,), ()), {}, {}) for _ in requests]

    monkeypatch.setattr(pipeline, "run_kernels", fake_run_kernels)
    out = tmp_path / "v"
    run_cli(build_module.main, "build", ["--config", "cpu", "--target-mb", "0.1", "--out", str(out), "--validate", "all", "--workers", "1", "--quiet"])
    kept = sum(pq.read_metadata(p).num_rows for p in (out / "cpu").glob("*.parquet"))
    assert 0 < kept < len(launched) <= kept + BATCH, (kept, len(launched))


def test_a_build_smaller_than_one_shard_builds_only_the_slots_its_cut_needs(tmp_path, monkeypatch):
    # Before any shard is measured the row size is a guess; a tiny target must still not build
    # a whole 500-slot shard to keep a few rows.
    from warp_ir_dataset import build as build_module
    from warp_ir_dataset import engines
    from warp_ir_dataset.cli import run_cli

    limits = []
    real_build_shards = engines.build_shards

    def spy(job, on_row=None):
        limits.extend(task.slot_limit for task in job)
        return real_build_shards(job, on_row)

    monkeypatch.setattr(engines, "build_shards", spy)
    out = tmp_path / "tiny"
    run_cli(build_module.main, "build", ["--config", "cpu", "--target-mb", "0.01", "--out", str(out), "--validate", "none", "--workers", "1", "--quiet"])
    assert len(limits) == 1 and limits[0] is not None and limits[0] <= 20, limits
    rows = pq.read_table(out / "cpu" / "train-00000.parquet").num_rows
    assert 0 < rows <= limits[0] and pq.read_metadata(out / "cpu" / "train-00000.parquet").metadata[b"rows_per_shard"] == b"500"


def test_the_size_cap_is_an_option_the_summary_counts_what_it_drops_and_the_card_command_carries_it(tmp_path):
    out = tmp_path / "d"
    build(out, "cpu", 0.05, *RPS, "--workers", "1", "--validate", "none", "--max-code-chars", "21000", "--summary-json", str(tmp_path / "s.json"))
    table = pq.read_table(sorted((out / "cpu").glob("*.parquet")))
    sizes = [sum(len(r[c] or "") for c in ("forward_code", "backward_code", "helper_code")) for r in table.to_pylist()]
    assert sizes and max(sizes) <= 21000
    assert json.loads((tmp_path / "s.json").read_text())["counts"]["oversized"] > 0  # a cap near the median row drops some
    meta = read_shard_metadata(sorted((out / "cpu").glob("train-*.parquet"))[0])
    assert meta["max_code_chars"] == "21000" and "--max-code-chars 21000" in meta["build_command"]
    assert json.loads(meta["identity"])["max_code_chars"] == 21000


def test_a_shard_verifies_batches_side_by_side_when_its_build_lends_it_more_permits_and_its_rows_stay_the_same(monkeypatch):
    # A one-shard build (or a build's last shard) would leave the other cores idle while its
    # compiles run one after another. Its batches go to threads; the build's permits bound how
    # many compile at once, and the rows (replacements of rejected ones included) do not change.
    import hashlib
    import threading
    import time

    from warp_ir_dataset import pipeline
    from warp_ir_dataset.contract import Contract
    from warp_ir_dataset.execute import Behaviour, Failure
    from warp_ir_dataset.pipeline import Lanes, ShardTask, build_shard
    from warp_ir_dataset.sources import GeneratedSource
    from warp_ir_dataset.validate import ValidationPlan

    running, most, lock = 0, 0, threading.Lock()

    def fake_run_kernels(requests, *a, **kw):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(1.5)
        with lock:
            running -= 1
        return [Behaviour(Contract((1,), ()), {}, {}) if hashlib.sha256(r.python_source.encode()).digest()[0] >= 52 else Failure("injected", "injected")
                for r in requests]

    monkeypatch.setattr(pipeline, "run_kernels", fake_run_kernels)
    built = {}
    for permits in (1, 2):
        monkeypatch.setattr(pipeline, "_lanes", Lanes(threading.BoundedSemaphore(permits)))
        most = 0
        result = build_shard(ShardTask("cpu", GeneratedSource(5), 0, 64, "test", ValidationPlan("all")))
        built[permits] = (result.full.files, result.rejects, most)
    assert built[1][2] == 1 and built[2][2] == 2
    assert built[1][1] and built[1][:2] == built[2][:2]  # rows were replaced, the same way


def test_a_family_that_raises_costs_its_seeds_not_the_build_and_is_named(monkeypatch):
    # A family bug must not take down a long build: the slot draws its next seed, and the count
    # says which family raised so it can be found (generate_kernel(seed) raises again).
    from dataclasses import replace

    from warp_ir_dataset.families import registry
    from warp_ir_dataset.generate import GeneratorError, family_for_seed, generate_kernel
    from warp_ir_dataset.pipeline import ShardTask, build_shard
    from warp_ir_dataset.sources import GeneratedSource
    from warp_ir_dataset.validate import ValidationPlan

    def broken(rng):
        raise ZeroDivisionError("a family bug")

    seed = next(s for s in range(1000) if family_for_seed(s) == "noise")
    monkeypatch.setitem(registry(), "noise", replace(registry()["noise"], generate=broken))
    with pytest.raises(GeneratorError, match=f"family noise raised on seed {seed}: ZeroDivisionError"):
        generate_kernel(seed)
    result = build_shard(ShardTask("cpu", GeneratedSource(11), 0, 40, "test", ValidationPlan("none")))
    assert result.counts.rows == 40 and result.complete  # every slot filled from its next seeds
    assert set(result.counts.generator_errors) == {"noise"} and result.counts.generator_errors["noise"] > 0
    assert "noise" not in result.table.column("family").to_pylist()
