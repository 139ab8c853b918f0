"""Where shard tasks run: in this process, in local worker processes, or as Ray tasks.

Every engine takes jobs (the ``ShardTask`` of one shard index for one or more configs, built
together by :func:`~warp_ir_dataset.pipeline.build_shards`) and hands back
``concurrent.futures.Future`` objects of their ``ShardResult`` tuples; the build's planning does
not know which engine runs. A shard depends only on its task, so all engines give the same rows.
"""
from __future__ import annotations

import gc
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait
from multiprocessing import connection, get_context
from typing import Callable

from . import _warp, lifeline, scratch
from .pipeline import ShardResult, ShardTask, build_shards, share_lanes

Job = tuple[ShardTask, ...]  # one shard index, one task per config

ENGINES = ("local", "ray")
OnRow = Callable[[int, int, int], None]  # (shard index, rows built in it, rows compiled in it)

_row_queue = None
_stop = None
_prepared = False


class ShardCancelled(Exception):
    """A worker stopped its shard because the build no longer needs it."""

# A kernel build allocates many short-lived objects; with Python's default threshold (700)
# the collector runs every few statements of Warp's codegen.
GC_THRESHOLD = 20_000


def prepare_process() -> None:
    """Initialise Warp once, send the compilers' temporary files to a folder of this process
    (:mod:`~warp_ir_dataset.scratch`), then move everything alive so far (Warp's builtins and
    modules, about 150k objects that live as long as the process) out of the collector's sight,
    so collections only scan what kernel builds allocate. Output does not change; time does."""
    global _prepared
    if not _prepared:
        _warp.init()
        scratch.use_private_temp(_warp.kernel_cache_dir())
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 10, 10)
        _prepared = True


def _before_exit() -> None:
    scratch.remove_private_temp()


def _worker_init(queue, stop, driver_pid: int, permits) -> None:
    global _row_queue, _stop
    # Stop signals reach the whole process group: the driver answers them and stops its
    # workers at a row; a worker whose driver is gone ends on its own.
    lifeline.follow_parent(driver_pid, cleanup=_before_exit)
    # Progress messages are expendable: a worker must not wait at exit for the driver to read them.
    queue.cancel_join_thread()
    _row_queue, _stop = queue, stop
    share_lanes(permits)
    prepare_process()


# Rows between progress messages from a worker: ~10 a second, plenty for a progress line, and
# each message costs the worker a wake-up of the queue's feeder thread.
ROWS_PER_REPORT = 10

# How long a stopping build waits for its workers to end their shards at a row boundary; a
# worker inside a long compile (a validation batch takes up to a minute) is terminated after it.
STOP_GRACE_SECONDS = 10


def _worker_build(job: Job) -> tuple[ShardResult, ...]:
    index = job[0].shard_index
    reported = reported_checked = 0

    def report(rows_done: int, checked: int) -> None:
        nonlocal reported, reported_checked
        if _stop.is_set():
            raise ShardCancelled(index)
        if rows_done - reported >= ROWS_PER_REPORT or checked != reported_checked:
            reported, reported_checked = rows_done, checked
            _row_queue.put((index, rows_done, checked))

    results = build_shards(job, report)
    if _stop.is_set():  # a short message in the pipe instead of megabytes no one will read
        raise ShardCancelled(index)
    return results


class InlineEngine:
    """Runs shards in this process (one worker): no start-up cost."""

    def __init__(self, on_row: OnRow):
        self.on_row = on_row
        prepare_process()

    def submit(self, job: Job) -> Future:
        future: Future = Future()
        future.set_result(build_shards(job, lambda rows, checked: self.on_row(job[0].shard_index, rows, checked)))
        return future

    def poll(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class ProcessEngine:
    """Warm worker processes (Warp initialised once each), reporting progress every few rows.

    Workers live for the whole build: nothing of a kernel outlives its extraction (see
    ``LoadedKernel.close``), so a worker's memory does not grow with the target.
    """

    def __init__(self, workers: int, on_row: OnRow):
        ctx = get_context("spawn")  # Warp's native state does not survive fork safely
        self.queue = ctx.Queue()
        self.stop = ctx.Event()
        self.on_row = on_row
        self.running: set[Future] = set()  # not the finished ones: their results are the driver's to drop
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(self.queue, self.stop, os.getpid(), ctx.BoundedSemaphore(workers)),
        )

    def submit(self, job: Job) -> Future:
        future = self.pool.submit(lifeline.ending_at_once, _worker_build, job, cleanup=_before_exit)
        self.running.add(future)
        future.add_done_callback(self.running.discard)
        return future

    def poll(self) -> None:
        while not self.queue.empty():
            self.on_row(*self.queue.get_nowait())

    def shutdown(self) -> None:
        """Stop shards still running past the target, without killing a worker that may be
        writing its result: one killed halfway through a message leaves the pool's reader
        thread waiting for the rest, and this process would never exit. Workers stop at their
        next row; only one still inside the compiler after the grace period is terminated."""
        self.stop.set()
        procs = list((self.pool._processes or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        _, still_running = wait(list(self.running), timeout=STOP_GRACE_SECONDS)
        if still_running:
            for proc in procs:
                lifeline.end_worker(proc.pid)
        # A worker told to end leaves when its compile returns, removing its scratch folder on
        # the way; one that does not is killed, and its folder removed from here.
        stuck = _still_running(procs, STOP_GRACE_SECONDS)
        for proc in stuck:
            proc.kill()
        if stuck:
            _still_running(stuck, STOP_GRACE_SECONDS)
            scratch.sweep(scratch.root(_warp.kernel_cache_dir()))


def _still_running(procs: list, timeout: float) -> list:
    """The processes that have not ended within ``timeout``. Waits on their sentinels rather
    than joining them: the pool's own thread reaps them, and two reapers race."""
    deadline = time.monotonic() + timeout
    pending = {}
    for proc in procs:
        try:
            pending[proc.sentinel] = proc
        except ValueError:  # already closed by the pool: gone
            pass
    while pending and (left := deadline - time.monotonic()) > 0:
        for sentinel in connection.wait(list(pending), timeout=left):
            del pending[sentinel]
    return list(pending.values())


def _ray_build(job: Job) -> tuple[ShardResult, ...]:
    prepare_process()  # once per Ray worker process; later calls return at once (Ray owns its signals)
    return build_shards(job)


class RayEngine:
    """Shard tasks as Ray tasks: on a cluster (``address``) or a local Ray started here.

    Results come back to this process, which writes them, so the output folder only needs to
    be reachable from the driver. Progress is per shard.
    """

    def __init__(self, workers: int, address: str | None):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--engine ray needs Ray: pip install 'warp-ir-dataset[ray]'") from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            kwargs = {"address": address} if address else {"num_cpus": workers}
            with scratch.system_temp():
                ray.init(**kwargs, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        self.remote = ray.remote(num_cpus=1, max_retries=2)(_ray_build)
        self.refs = []

    def submit(self, job: Job) -> Future:
        ref = self.remote.remote(job)
        self.refs.append(ref)
        return ref.future()

    def poll(self) -> None:
        pass

    def shutdown(self) -> None:
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        if self.started_here:
            self.ray.shutdown()


def make_engine(engine: str, workers: int, on_row: OnRow, ray_address: str | None = None):
    if engine == "ray":
        return RayEngine(workers, ray_address)
    return ProcessEngine(workers, on_row) if workers > 1 else InlineEngine(on_row)
