"""Where the compilers write their temporary files: a folder per process under Warp's kernel
cache, removed when the process ends.

NVRTC (CUDA 13, no driver) makes a precompiled-header folder of ~77 MB per process in the
system temp folder and never removes it; Warp's clang makes one too. A worker that compiles
points ``TMPDIR`` at ``<Warp's kernel cache>/wirds-scratch/<pid>`` first, so everything lands
there and goes when the worker ends (normally, or stopped by the build). A process killed
outright leaves its folder behind: the next worker that starts removes every folder there whose
process is gone (ended, or a zombie that nothing reaps), and nothing else.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

from .lifeline import END_WORKER

FOLDER = "wirds-scratch"
_own: list[Path] = []  # this process's folder, once it has one
_system_temp: list[str | None] = []  # TMPDIR as it was before (None: not set)


def root(cache_dir: str) -> Path:
    """The folder that holds every process's scratch folder."""
    return Path(cache_dir) / FOLDER


def use_private_temp(cache_dir: str) -> Path:
    """Send this process's temporary files to its own folder, removed when the process exits
    (or by :func:`remove_private_temp`)."""
    folders = root(cache_dir)
    sweep(folders)
    mine = folders / str(os.getpid())
    mine.mkdir(parents=True, exist_ok=True)
    if not _own:
        _system_temp.append(os.environ.get("TMPDIR"))
    os.environ["TMPDIR"] = str(mine)
    tempfile.tempdir = None  # the next call reads TMPDIR again
    atexit.register(_remove, mine)
    _own.append(mine)
    return mine


@contextlib.contextmanager
def system_temp():
    """The system's temp folder for what starts here and must outlive this process's folder (a
    local Ray cluster puts its sessions and sockets in the temp folder of the process that starts
    it; under ours a socket path outgrows what AF_UNIX allows)."""
    if not _own:
        yield
        return
    ours = os.environ["TMPDIR"]
    _set_tmpdir(_system_temp[0])
    try:
        yield
    finally:
        _set_tmpdir(ours)


def _set_tmpdir(value: str | None) -> None:
    if value is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = value
    tempfile.tempdir = None


def remove_private_temp() -> None:
    """Remove this process's folder now (a worker whose driver is gone, on its way out)."""
    for folder in _own:
        _remove(folder)


def _remove(folder: Path) -> None:
    # The build ends a worker it no longer needs with a signal; one arriving while the worker
    # is already exiting would cut this removal short and leave half the folder behind.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, END_WORKER})
    shutil.rmtree(folder, ignore_errors=True)


def sweep(root: Path) -> list[Path]:
    """Remove the folders of processes that no longer run; returns what was removed."""
    removed = []
    for folder in sorted(root.glob("[0-9]*")) if root.is_dir() else []:
        if folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed worker whose parent died too stays a zombie until something reaps it (in a
    container, possibly never); it answers signals but will never remove its folder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS) or the process just went
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
