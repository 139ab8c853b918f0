"""The driver loop shared by ``build`` and ``extract``: keep an engine's workers busy with a
plan's shard jobs, hand each finished job's results back to the plan, keep progress moving.

A plan decides everything about *which* shards (a size target and its last cut for ``build``,
every shard of the modules found for ``extract``) and what to do with a result (write it,
accept it in order); the driver only submits, waits and polls, as datatrove's executors run
pipeline steps they know nothing about.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Protocol

from .engines import Job, OnRow, make_engine
from .pipeline import ShardResult

POLL_SECONDS = 0.5  # how often progress moves while every worker is busy


class ShardPlan(Protocol):
    def on_row(self, index: int, rows: int, checked: int) -> None:
        """A worker's report: ``rows`` built so far in shard ``index``, ``checked`` of them
        through the compiler (and launched) so far."""

    def urgent_jobs(self) -> list[Job]:
        """Take what has come back (accept, write) and return jobs to submit now, whatever
        the number of busy workers (a shard that must be built whole after all)."""

    def finished(self) -> bool: ...

    def next_job(self) -> Job | None:
        """The job a free worker should take next; None while nothing more is needed yet."""

    def take(self, job: Job, results: tuple[ShardResult, ...]) -> None:
        """A job's results, one per task, as they come back (in any order)."""

    def show(self, final: bool = False) -> None: ...


def drive(plan: ShardPlan, engine: str, workers: int, ray_address: str | None = None) -> None:
    """Run ``plan`` to its end on ``workers`` workers of ``engine``; the engine is shut down
    however this ends (a stop, an error), which ends the workers' shards at a row."""
    on_row: OnRow = plan.on_row
    runner = make_engine(engine, workers, on_row, ray_address)
    jobs: dict[Future, Job] = {}
    try:
        while True:
            for job in plan.urgent_jobs():
                jobs[runner.submit(job)] = job
            if plan.finished():
                break
            while len(jobs) < workers and (job := plan.next_job()) is not None:
                jobs[runner.submit(job)] = job
            if not jobs:
                raise RuntimeError("the shard plan is not finished but wants no shard built")
            done, _ = wait(list(jobs), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                plan.take(jobs.pop(future), future.result())
            runner.poll()
            plan.show()
        plan.show(final=True)
    finally:
        runner.shutdown()
