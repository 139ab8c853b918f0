"""A stopped build or extraction leaves no process behind, however it is stopped: SIGTERM to its
process group (``timeout``, ``docker stop``, Slurm), SIGTERM or SIGHUP to the driver alone, or
SIGKILL to the driver alone (the out-of-memory killer). The stops that a driver can answer are
one line and a non-zero exit, like Ctrl-C, and the same command resumes to the uninterrupted bytes;
every worker's scratch folder goes with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, build, snapshot

GONE_WITHIN_SECONDS = 15  # from the stop to the last process of the group
TARGET_MB, BUILD = 0.15, ("--rows-per-shard", "5", "--workers", "2")


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of the group that still run (a zombie holds nothing but its exit status)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


_started: list[int] = []


@pytest.fixture(autouse=True)
def _nothing_left_when_a_test_fails():
    yield
    for pgid in _started:  # a failing test must not leave its group running under the rest of the suite
        for pid in _alive_in_group(pgid):
            os.kill(pid, signal.SIGKILL)
    _started.clear()


def _start(args: list[str], env: dict) -> subprocess.Popen:
    # A group of its own, as a job scheduler's; SIGINT and SIGHUP as a terminal gives them (a suite
    # run in the background has SIGINT ignored, one under nohup SIGHUP, and the command rightly
    # keeps an ignored signal ignored).
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGHUP)])
    _started.append(proc.pid)
    return proc


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _stop(proc: subprocess.Popen, how: str) -> tuple[int, str]:
    """Stop the command as ``how`` says; wait until nothing of its group runs; its exit and stderr."""
    target, name = how.split("-")
    signum = getattr(signal, name)
    assert len(_alive_in_group(proc.pid)) >= 3, "stopped before its workers ran"  # the driver, two workers
    sent = time.time()
    (os.killpg if target == "group" else os.kill)(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    gone = _wait_until(lambda: not _alive_in_group(proc.pid), GONE_WITHIN_SECONDS - (time.time() - sent))
    assert gone, f"{how}: still running {time.time() - sent:.0f}s after the stop: {_alive_in_group(proc.pid)}"
    return proc.returncode, err


def _answered_like_ctrl_c(how: str, code: int, err: str) -> None:
    signum = getattr(signal, how.split("-")[1])
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 128 + signum and len(lines) == 1, (code, err)
    assert f"stopped by {signal.Signals(signum).name}" in lines[0] and "run the same command" in lines[0], err


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "data"
    build(out, "all", TARGET_MB, *BUILD)
    return snapshot(out)


@pytest.mark.parametrize("how,config", [
    ("group-SIGTERM", "all"), ("driver-SIGTERM", "all"), ("driver-SIGHUP", "cpu"), ("driver-SIGKILL", "all"),
])
def test_a_stopped_build_leaves_no_process_and_no_scratch_and_resumes_to_the_same_bytes(tmp_path, reference, how, config):
    out, cache = tmp_path / "data", tmp_path / "cache"
    env = {"WARP_CACHE_PATH": str(cache)}
    proc = _start(["warp_ir_dataset.build", "--config", config, "--target-mb", str(TARGET_MB), *BUILD, "--out", str(out), "--quiet", "--validate", "none"], env)
    assert _wait_until(lambda: any(out.glob("*/train-*.parquet")), 120), "no shard was written"
    code, err = _stop(proc, how)
    _answered_like_ctrl_c(how, code, err)
    assert [p for p in cache.rglob("wirds-scratch/*")] == []  # each worker removed its folder on its way out
    # A driver killed in the instant between naming a whole shard and renaming it leaves that
    # name (the test above covers the writing itself); the next run removes it.
    left = [p for p in out.rglob(".*.tmp-*") if not (how == "driver-SIGKILL" and p.name.endswith(f".tmp-{proc.pid}"))]
    assert left == []
    build(out, config, TARGET_MB, *BUILD, env_extra=env)
    assert not list(out.rglob(".*.tmp-*"))
    if config == "all":
        assert snapshot(out) == reference
    else:  # the card differs (one config); the config's files do not
        assert snapshot(out / config) == {k.partition("/")[2]: v for k, v in reference.items() if k.startswith(config + "/")}


@pytest.mark.parametrize("how", ["driver-SIGKILL", "group-SIGTERM"])
def test_a_stopped_extraction_leaves_no_importing_process_behind(tmp_path, how):
    # One module of the fixture never finishes importing: its importing process is running when
    # the extraction stops, and must not outlive it.
    fixture = ROOT / "tests" / "fixtures" / "realpkg"
    out = tmp_path / "data"
    args = ["warp_ir_dataset.extract", str(fixture), "--config", "cpu", "--out", str(out), "--validate", "none", "--quiet",
            "--module-timeout", "600", "--modules-per-shard", "1", "--workers", "2"]
    proc = _start(args, {"WARP_CACHE_PATH": str(tmp_path / "cache")})
    assert _wait_until(lambda: _importing(proc.pid, "hangs"), 180), "the hanging module was never imported"
    code, err = _stop(proc, how)
    _answered_like_ctrl_c(how, code, err)


def _importing(pgid: int, module: str) -> list[int]:
    """The group's processes importing a module whose name contains ``module`` (a probe's
    child works in a folder of its own, whose request file says which)."""
    found = []
    for pid in _alive_in_group(pgid):
        try:
            if module.encode() in Path(f"/proc/{pid}/cwd/request.json").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_a_worker_that_dies_ends_the_build_with_one_line_and_leaves_nothing(tmp_path):
    # A worker killed by the system (out of memory, a crash in native code) breaks the process
    # pool: the pool terminates the other workers, and the build must end, not wait on them.
    out = tmp_path / "data"
    proc = _start(["warp_ir_dataset.build", "--config", "cpu", "--target-mb", "1", *BUILD, "--out", str(out), "--quiet", "--validate", "none"],
                  {"WARP_CACHE_PATH": str(tmp_path / "cache")})
    assert _wait_until(lambda: any(out.glob("cpu/train-*.parquet")), 120), "no shard was written"
    workers = [p for p in _alive_in_group(proc.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("build: "), err
    assert _wait_until(lambda: not _alive_in_group(proc.pid), GONE_WITHIN_SECONDS), _alive_in_group(proc.pid)


_KILLED_WHILE_WRITING = """
import os, sys, time
from pathlib import Path
from warp_ir_dataset import write
real_fsync = os.fsync
os.fsync = lambda fd: (Path(sys.argv[1] + ".writing").touch(), time.sleep(60), real_fsync(fd))
write.atomic_write(Path(sys.argv[1]), b"x" * 1000)
"""


def test_a_driver_killed_while_writing_a_shard_leaves_no_temp_file(tmp_path):
    # The driver writes the shards; SIGKILL (the out-of-memory killer) cannot be caught, so the
    # bytes are written to a file without a name until they are whole on disk.
    target = tmp_path / "data" / "train-00000.parquet"
    target.parent.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_WRITING, str(target)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    _started.append(writer.pid)
    assert _wait_until(lambda: Path(str(target) + ".writing").exists(), 60), "the writer never wrote"
    writer.kill()
    writer.wait()
    assert [p.name for p in target.parent.iterdir()] == [target.name + ".writing"]
