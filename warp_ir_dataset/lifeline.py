"""Every process a command starts ends with the command, however the command ends.

A build is stopped the way jobs are stopped: Ctrl-C (SIGINT to the terminal's process group),
``timeout``, ``docker stop``, Slurm and Kubernetes (SIGTERM, to the group or to the driver alone),
a closed terminal (SIGHUP), the out-of-memory killer (SIGKILL to the driver alone). The rules:

- The driver (the command's own process) treats SIGTERM and SIGHUP as Ctrl-C: :func:`stop_on_signals`
  raises :class:`Stopped`, and the command stops its workers at a row boundary, keeps finished
  shards, says so in one line and exits non-zero.
- A worker ignores the stop signals sent to the whole group (its driver stops it at a row), ends
  on :data:`END_WORKER` once its native call returns (the driver's order for a worker that did
  not stop in time), and ends on its own once its driver is gone (:func:`follow_parent`: a
  thread that checks its parent every :data:`WATCH_SECONDS`; a parent-death signal would fire
  when the *thread* that started the worker ends, not the driver).
- A process that runs someone else's code (importing a user's module) is killed by the kernel
  when its parent ends (:func:`die_with_parent`), since that code may hold the interpreter and
  never let a watching thread run.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from typing import Callable, TypeVar

# What stops a job: a terminal's Ctrl-C, a scheduler's or `timeout`'s SIGTERM, a closed session.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
END_WORKER = signal.SIGUSR1
# How often an orphaned worker is noticed: well under the "few seconds" a user waits.
WATCH_SECONDS = 0.25
PARENT_ENV = "WIRDS_PARENT_PID"  # the pid a child started through ``child_env`` must have as parent
_PR_SET_PDEATHSIG = 1
T = TypeVar("T")


class Stopped(KeyboardInterrupt):
    """The command was told to stop by a signal; handled everywhere as Ctrl-C is."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals() -> None:
    """In the driver: SIGTERM and SIGHUP raise :class:`Stopped` in the main thread, as Ctrl-C
    raises KeyboardInterrupt. A signal already ignored (``nohup``) stays ignored."""

    def stop(signum, frame):
        raise Stopped(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, stop)


def stopped_by(error: BaseException) -> Stopped | None:
    """The :class:`Stopped` behind ``error`` (click wraps a KeyboardInterrupt in its Abort)."""
    while error is not None and not isinstance(error, Stopped):
        error = error.__cause__ or error.__context__
    return error


def follow_parent(parent_pid: int, cleanup: Callable[[], None] = lambda: None) -> None:
    """In a worker: ignore the group's stop signals, end on :data:`END_WORKER`, and end (after
    ``cleanup``) as soon as ``parent_pid`` is no longer this process's parent."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(END_WORKER, _raise_worker_ended)

    def orphaned() -> None:
        try:
            cleanup()
        finally:
            os._exit(128 + signal.SIGHUP)  # at once: atexit hooks would wait on the dead parent's pipes

    _when_parent_is_not(parent_pid, orphaned)


class WorkerEnded(SystemExit):
    """The driver's :data:`END_WORKER` order, raised where the worker's main thread is."""


def _raise_worker_ended(signum, frame) -> None:
    raise WorkerEnded(128 + signum)


def ending_at_once(job: Callable[..., T], *args, cleanup: Callable[[], None] = lambda: None) -> T:
    """In a pool worker: ``job(*args)``, but the driver's :data:`END_WORKER` order ends the process
    (after the job's own ``finally`` blocks and ``cleanup``). The pool catches every exception of
    a job, ``SystemExit`` too, sends it back and waits for another job: a worker told to end
    would go on reading a queue that its driver is taking down (and print a traceback there)."""
    try:
        return job(*args)
    except WorkerEnded as ended:
        try:
            cleanup()
        finally:
            os._exit(ended.code)


def _when_parent_is_not(parent_pid: int, then: Callable[[], None]) -> None:
    """Call ``then`` from a thread of its own once ``parent_pid`` is no longer this process's parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_SECONDS)
        then()

    threading.Thread(target=watch, name="wirds-watch-parent", daemon=True).start()


def end_worker(pid: int) -> None:
    """The driver's order to a worker to end now (it ends once its current native call returns)."""
    try:
        os.kill(pid, END_WORKER)
    except ProcessLookupError:
        pass


def child_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child that calls :func:`die_with_parent`: it learns which pid is its parent."""
    return {**env, PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """In a child started with :func:`child_env`: the kernel kills it when its parent ends
    (Linux); elsewhere a watching thread ends it. A parent gone before this ran ends it now."""
    parent = int(os.environ.pop(PARENT_ENV, "0")) or os.getppid()
    libc = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if libc is not None:
        ctypes.CDLL(libc, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(128 + signal.SIGKILL)
    if libc is None:
        _when_parent_is_not(parent, lambda: os._exit(128 + signal.SIGKILL))
