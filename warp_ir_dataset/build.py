"""The build CLI: ``python -m warp_ir_dataset.build --config cuda --target-mb 200``.

Shards ``0, 1, 2, ...`` are built in parallel and accepted in index order until their Parquet
bytes reach the target; the last one is cut to the shortest prefix that reaches it. Every full
shard is on disk as soon as it is accepted, so an interrupted build resumes where it stopped,
and because a shard depends only on ``(config, seed, index)`` the result equals an
uninterrupted run.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from . import _warp
from .cli import run_cli
from .generate import GENERATOR_VERSION
from .engines import ENGINES, make_engine
from .pipeline import EncodedShard, ShardCounts, ShardResult, ShardTask, build_shard, smallest_prefix_reaching
from .schema import CONFIGS
from .sources import GeneratedSource
from .validate import DEFAULT_ARCH, MODES, ValidationPlan
from .write import ShardError, atomic_write, read_shard_metadata, shard_name, verify_shard

MB = 1_000_000
DEFAULT_ROWS_PER_SHARD = 500
SPLITS = ("train", "test")


def rejects_name(index: int) -> str:
    """Rows the toolchain rejected while building a shard (JSON lines, beside the shard)."""
    return f"rejects-{index:05d}.jsonl"


def _write_shard(folder: Path, index: int, shard: EncodedShard, rejects: list[dict], rejects_file: str | None = None) -> None:
    # The train file lands last: once it is there, the shard's test file and rejects are too.
    kept = [r for r in rejects if r.get("slot", -1) < shard.slots]
    rejects_path = folder / (rejects_file or rejects_name(index))
    if kept:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        atomic_write(rejects_path, text.encode())
    else:
        rejects_path.unlink(missing_ok=True)
    for split in sorted(shard.files, key=lambda s: s == "train"):
        atomic_write(folder / shard_name(index, split), shard.files[split])
    if "train" in shard.files and "test" not in shard.files:
        (folder / shard_name(index, "test")).unlink(missing_ok=True)


@dataclass(frozen=True)
class BuildOptions:
    config: str
    target_bytes: int
    out: Path
    seed: int = 0
    workers: int = 1
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
    validation: ValidationPlan = ValidationPlan()
    engine: str = "local"
    ray_address: str | None = None

    @property
    def command(self) -> str:
        """The canonical command: what determines the rows (not --out or --workers)."""
        return (
            f"python -m warp_ir_dataset.build --config {self.config} --target-mb {self.target_bytes / MB:g} "
            f"--seed {self.seed} --rows-per-shard {self.rows_per_shard} --validate {self.validation.mode}"
            + (f" --arch sm_{self.validation.arch}" if self.config == "cuda" else "")
            + (" --ptx" if self.validation.ptx else "")
        )

    def task(self, index: int, slot_limit: int | None = None) -> ShardTask:
        return ShardTask(self.config, GeneratedSource(self.seed), index, self.rows_per_shard, self.command, self.validation, slot_limit)


@dataclass
class BuildSummary:
    config: str
    shards: int = 0
    rows: int = 0
    bytes: int = 0
    shards_built: int = 0
    rows_built: int = 0
    seconds: float = 0.0
    counts: ShardCounts = field(default_factory=ShardCounts)


class BuildError(click.ClickException):
    pass


# -- the output folder -------------------------------------------------------------------------
def _prepare_folder(folder: Path):
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / ".build.lock", "w")
    except OSError as e:
        raise BuildError(f"cannot write to {folder}: {e.strerror}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BuildError(f"another build is writing to {folder}") from None
    for stale in folder.glob(".*.tmp-*"):  # temp files of a build that died; never data
        stale.unlink(missing_ok=True)
    return lock


@dataclass(frozen=True)
class OnDisk:
    slots: int
    rows: int
    size: int
    final_for_target: int | None


def _scan(folder: Path, opts: BuildOptions) -> dict[int, OnDisk]:
    """Existing shards by index; refuses foreign, damaged or differently-built files."""
    expected = {
        "config": opts.config,
        "seed": str(opts.seed),
        "rows_per_shard": str(opts.rows_per_shard),
        "generator_version": GENERATOR_VERSION,
        "warp_version": _warp.WARP_VERSION,
        "validate": opts.validation.mode,
        "arch": f"sm_{opts.validation.arch}",
        "ptx": str(opts.validation.ptx).lower(),
    }
    metas: dict[tuple[int, str], tuple[Path, dict]] = {}
    for path in sorted(folder.glob("*.parquet")):
        meta = read_shard_metadata(path)
        if meta["source"] != GeneratedSource.kind:
            continue  # a split extracted from modules (`--real`, or `extract`): not this build's
        index, split = int(meta["shard_index"]), meta["split"]
        if path.name != shard_name(index, split):
            raise ShardError(f"{path}: holds {split} shard {index} under the wrong name")
        for key, want in expected.items():
            if meta[key] != want:
                raise ShardError(f"{path}: built with {key}={meta[key]}, this build uses {key}={want}; use another --out")
        verify_shard(path)
        metas[(index, split)] = (path, meta)
    found: dict[int, OnDisk] = {}
    for (index, split), (path, meta) in sorted(metas.items()):
        if split != "train":
            continue
        test = metas.get((index, "test"))
        if test and test[1]["slots"] != meta["slots"]:
            test = None  # left by a crash between the two writes; the shard is rewritten whole
        size = path.stat().st_size + (test[0].stat().st_size if test else 0)
        rows = int(meta["rows"]) + (int(test[1]["rows"]) if test else 0)
        final = int(meta["final_for_target"]) if meta["final_for_target"] else None
        found[index] = OnDisk(int(meta["slots"]), rows, size, final)
    return found


# -- progress ----------------------------------------------------------------------------------
class Progress:
    """Rows kept, MB, rows/s and ETA on stderr: a live bar on a terminal (tqdm), a plain line
    every few seconds when stderr is a log file."""

    def __init__(self, opts: BuildOptions, enabled: bool = True):
        self.label = f"build {opts.config}"
        self.target_mb = opts.target_bytes / MB
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.interval = 0.5 if self.tty else 5.0
        self.start = self.last = time.perf_counter()
        self.bar = None
        if enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=round(self.target_mb, 2), unit="MB", desc=self.label, dynamic_ncols=True, file=sys.stderr,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} MB [{elapsed}<{remaining}{postfix}]")

    def update(self, mb_done: float, rows: int, building: int = 0, built: int = 0, final: bool = False) -> None:
        """``rows`` kept so far, ``building`` in shards not yet accepted, ``built`` by this run
        (what the rate counts: shards found on disk cost nothing)."""
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < self.interval):
            return
        self.last = now
        elapsed = now - self.start
        rate = built / elapsed if elapsed > 0 else 0.0
        kept = f"{rows} rows kept" + (f" (+{building} being built)" if building and not final else "")
        if self.bar is not None:
            self.bar.n = round(min(mb_done, self.target_mb), 2)
            self.bar.set_postfix_str(f"{kept}, {rate:.0f} rows/s", refresh=True)
            return
        mb_rate = mb_done / elapsed if elapsed > 0 else 0.0
        if final:
            eta = "done"
        elif mb_done >= 0.99 * self.target_mb:  # the estimate is capped there: the rest is the last cut
            eta = "finishing"
        elif mb_rate > 0:
            eta = f"ETA {(self.target_mb - mb_done) / mb_rate:.0f}s"
        else:
            eta = "ETA ?"
        sys.stderr.write(
            f"{self.label}: {kept}, {mb_done:.2f}/{self.target_mb:.2f} MB, "
            f"{rate:.0f} rows/s, elapsed {elapsed:.0f}s, {eta}\n"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- the build ---------------------------------------------------------------------------------
def run_build(opts: BuildOptions, show_progress: bool = True) -> BuildSummary:
    if opts.config not in CONFIGS:
        raise BuildError(f"unknown config {opts.config!r}; choose from {', '.join(CONFIGS)}")
    if opts.target_bytes <= 0:
        raise BuildError("--target-mb must be positive")
    folder = opts.out / opts.config
    lock = _prepare_folder(folder)
    from .card import import_card_libraries, update_card_metadata

    # With worker processes this process mostly waits: it imports the card's libraries then.
    # (Building in this process, a second thread would only compete with it for the GIL.)
    importer = threading.Thread(target=import_card_libraries, daemon=True)
    if opts.workers > 1 or opts.engine != "local":
        importer.start()
    try:
        on_disk = _scan(folder, opts)
        summary = _build_into(folder, opts, on_disk, show_progress)
    finally:
        lock.close()
        if importer.is_alive():
            importer.join()
    update_card_metadata(opts.out)
    return summary


def _build_into(folder: Path, opts: BuildOptions, on_disk: dict[int, OnDisk], show_progress: bool) -> BuildSummary:
    summary = BuildSummary(opts.config)
    started = time.perf_counter()
    progress = Progress(opts, enabled=show_progress)
    rows_in_flight: dict[int, int] = {}

    def note_rows(index: int, n: int) -> None:
        rows_in_flight[index] = n

    engine = make_engine(opts.engine, opts.workers, lambda i, n: (note_rows(i, n), show()), opts.ray_address)

    accepted_bytes = 0  # bytes of shards 0..next_accept-1, all full and on disk
    next_accept = 0
    next_submit = 0
    pending: dict[int, Future] = {}
    ready: dict[int, ShardResult] = {}
    bytes_per_row = 6000.0  # a guess (about generator 4's cpu rows) until the first shard is measured

    def estimated_bytes() -> float:
        # Sizes are only exact once a shard is encoded; in-flight rows are an estimate.
        guess = accepted_bytes + sum(rows_in_flight.values()) * bytes_per_row
        return min(guess, 0.99 * opts.target_bytes)

    def show() -> None:
        # Rows kept are those of accepted shards; rows being built may still be cut away.
        building = sum(rows_in_flight.values())
        progress.update(estimated_bytes() / MB, summary.rows, building, summary.rows_built + building)

    def full_on_disk(index: int) -> bool:
        return index in on_disk and on_disk[index].final_for_target is None

    def finished() -> BuildSummary:
        summary.seconds = time.perf_counter() - started
        summary.bytes += accepted_bytes
        progress.update(summary.bytes / MB, summary.rows, built=summary.rows_built, final=True)
        return summary

    try:
        while True:
            # Accept shards in index order while the total stays below the target.
            while True:
                i = next_accept
                if i in on_disk and on_disk[i].final_for_target == opts.target_bytes:
                    _keep_last_shard(folder, i, on_disk, summary)  # this very build, already finished
                    return finished()
                if full_on_disk(i) and i not in ready:
                    size, rows, result = on_disk[i].size, on_disk[i].rows, None
                elif i in ready:
                    result = ready.pop(i)
                    size, rows = result.full.size, result.counts.rows
                    if not result.complete and (accepted_bytes + size < opts.target_bytes or not result.exact_prefix):
                        # A limited last shard that fell short of the target (or whose rows
                        # may differ from the full shard's): build the whole shard.
                        pending[i] = engine.submit(opts.task(i))
                        break
                else:
                    break
                if accepted_bytes + size >= opts.target_bytes:
                    if result is None:
                        raise BuildError(
                            f"{folder} already holds more than --target-mb {opts.target_bytes / MB:g}; "
                            "use a larger target or another --out"
                        )
                    _finish_last_shard(folder, opts, result, opts.target_bytes - accepted_bytes, on_disk, summary)
                    return finished()
                if result is not None:
                    _write_shard(folder, i, result.full, result.rejects)
                    summary.shards_built += 1
                    summary.rows_built += rows
                    summary.counts.add(result.counts)
                    rows_in_flight.pop(i, None)
                accepted_bytes += size
                summary.shards += 1
                summary.rows += rows
                bytes_per_row = accepted_bytes / max(summary.rows, 1)
                next_accept += 1
                show()
            # Keep the workers busy with the shards most likely to be needed next.
            next_submit = max(next_submit, next_accept)
            while len(pending) < opts.workers:
                while next_submit in ready or next_submit in pending or full_on_disk(next_submit):
                    next_submit += 1
                planned = accepted_bytes + bytes_per_row * opts.rows_per_shard * (
                    len(pending) + len(ready) + sum(1 for j in on_disk if j >= next_accept)
                )
                if planned >= opts.target_bytes and pending:
                    break
                pending[next_submit] = engine.submit(opts.task(next_submit, _slots_to_reach(opts, opts.target_bytes - planned, bytes_per_row, known=summary.rows > 0)))
                next_submit += 1
            done, _ = wait(list(pending.values()), timeout=0.5, return_when=FIRST_COMPLETED)
            for index in [j for j, f in pending.items() if f in done]:
                ready[index] = pending.pop(index).result()
            engine.poll()
            show()
    finally:
        progress.close()
        engine.shutdown()


# The last shard is built only up to the rows its cut is expected to need, with this margin:
# a full shard of which most rows would be cut away costs as much as any other.
LAST_SHARD_MARGIN = 1.2


def _slots_to_reach(opts: BuildOptions, remaining: float, bytes_per_row: float, known: bool) -> int | None:
    """How many slots the shard being submitted needs to build, ``None`` for all: fewer only
    when it is expected to be the last one and the bytes per row are measured, not guessed."""
    if not known or remaining >= bytes_per_row * opts.rows_per_shard:
        return None
    slots = int(max(remaining, 0) / bytes_per_row * LAST_SHARD_MARGIN) + 8
    return slots if slots < opts.rows_per_shard else None


def _refuse_shards_beyond(folder: Path, index: int, on_disk: dict[int, OnDisk]) -> None:
    beyond = sorted(j for j in on_disk if j > index)
    if beyond:
        raise BuildError(
            f"{folder} already holds more than --target-mb (shards up to {shard_name(beyond[-1])}); "
            "use a larger target or another --out"
        )


def _keep_last_shard(folder: Path, index: int, on_disk: dict[int, OnDisk], summary: BuildSummary) -> None:
    _refuse_shards_beyond(folder, index, on_disk)
    summary.shards += 1
    summary.rows += on_disk[index].rows
    summary.bytes = on_disk[index].size


def _finish_last_shard(folder: Path, opts: BuildOptions, result: ShardResult, needed: int, on_disk, summary) -> None:
    index = result.task.shard_index
    _refuse_shards_beyond(folder, index, on_disk)
    last = smallest_prefix_reaching(result, needed, opts.target_bytes)
    _write_shard(folder, index, last, result.rejects)
    rows = last.rows()
    summary.shards += 1
    summary.shards_built += 1
    summary.counts.add(result.counts)
    summary.rows += rows
    summary.rows_built += rows
    summary.bytes = last.size


def iter_tables(opts: BuildOptions):
    """The build's shards as ``(index, {split: table})``, built one by one in this process.

    Same planning as :func:`run_build` (full shards, then the last one cut to the fewest slots
    that reach the target), so it yields exactly the rows the CLI writes. The ``datasets``
    builder class in ``builder_scripts/`` uses it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .engines import prepare_process

    prepare_process()
    total = 0
    for index in range(1 << 30):
        result = build_shard(opts.task(index))
        shard = result.full
        last = total + shard.size >= opts.target_bytes
        if last:
            shard = smallest_prefix_reaching(result, opts.target_bytes - total, opts.target_bytes)
        yield index, {split: pq.read_table(pa.BufferReader(data)) for split, data in shard.files.items()}
        if last:
            return
        total += shard.size


# -- CLI ---------------------------------------------------------------------------------------
def check_device_options(config: str, validate: str, arch: str, ptx: bool) -> ValidationPlan:
    """The validation plan for the options that ``build`` and ``extract`` share; bad ones end in
    one line."""
    if config not in CONFIGS:
        raise BuildError(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")
    if validate not in MODES:
        raise BuildError(f"unknown --validate {validate!r}; choose from {', '.join(MODES)}")
    if not re.fullmatch(r"sm_\d{2,3}", arch):
        raise BuildError(f"--arch must look like sm_90, got {arch!r}")
    if ptx and config != "cuda":
        raise BuildError("--ptx needs --config cuda (PTX is NVRTC's output for CUDA code)")
    if config == "cuda" and (validate != "none" or ptx):
        archs = _warp.nvrtc_archs()
        if int(arch[3:]) not in archs:
            raise BuildError(f"--arch {arch}: Warp's NVRTC compiles for {', '.join(f'sm_{a}' for a in sorted(archs))}")
    return ValidationPlan(validate, int(arch[3:]), ptx)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", required=True, help="Device to generate code for: cpu or cuda.")
@click.option("--target-mb", type=float, required=True, help="Stop when the shards reach this many MB (10^6 bytes) of Parquet on disk.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/production"), show_default=True, help="Dataset folder; the config's shards go in OUT/CONFIG/.")
@click.option("--seed", type=int, default=0, show_default=True, help="Build seed: same seed, same rows, byte for byte.")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--rows-per-shard", type=int, default=DEFAULT_ROWS_PER_SHARD, show_default=True, help="Rows in each full shard.")
@click.option("--validate", "validate", default="sample", show_default=True, help="Compile rows with Warp's toolchain (clang / NVRTC): none, sample (1 row in 20 per shard) or all.")
@click.option("--arch", default=f"sm_{DEFAULT_ARCH}", show_default=True, help="CUDA architecture that cuda rows are compiled (and PTX generated) for.")
@click.option("--ptx", is_flag=True, help="cuda only: compile every row alone with NVRTC and store its PTX in the ptx column.")
@click.option("--engine", default="local", show_default=True, help="Where shards are built: local worker processes, or ray (a Ray cluster, see --ray-address).")
@click.option("--ray-address", default=None, help="Ray cluster to join with --engine ray (default: start a local Ray).")
@click.option("--real", is_flag=True, help="Also extract the `real` split (published Warp code: warp-lang's own, mujoco-warp) into OUT/CONFIG/real-*.parquet; on top of the target.")
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.option("--summary-json", type=click.Path(path_type=Path), default=None, help="Also write the build's summary (rows, MB, rows/s, counts, peak memory) as JSON here.")
def main(config, target_mb, out, seed, workers, rows_per_shard, validate, arch, ptx, engine, ray_address, real, quiet, summary_json) -> None:
    """Generate Warp kernels, run Warp's codegen on them, and write Parquet shards."""
    plan = check_device_options(config, validate, arch, ptx)
    if not target_mb > 0:
        raise BuildError(f"--target-mb must be a positive number of MB, got {target_mb:g}")
    if rows_per_shard < 1 or (workers is not None and workers < 1):
        raise BuildError("--rows-per-shard and --workers must be at least 1")
    if engine not in ENGINES:
        raise BuildError(f"unknown --engine {engine!r}; choose from {', '.join(ENGINES)}")
    if real:
        import importlib.util

        if importlib.util.find_spec("mujoco_warp") is None:
            raise BuildError("--real needs the published Warp code of the [real] extra: pip install 'warp-ir-dataset[real]' (./dev installs it)")
    opts = BuildOptions(
        config, int(target_mb * MB), out, seed, workers or os.cpu_count() or 1, rows_per_shard, plan, engine, ray_address
    )
    summary = run_build(opts, show_progress=not quiet)
    rate = summary.rows_built / summary.seconds if summary.seconds and summary.rows_built else 0.0
    click.echo(
        f"{config}: {summary.rows} rows in {summary.shards} shards, {summary.bytes / MB:.2f} MB "
        f"at {out / config} ({summary.rows_built} rows built now, {rate:.0f} rows/s; "
        f"{summary.counts.codegen_failures} kernels Warp could not build were replaced)"
    )
    counts = summary.counts
    if real:
        from .extract import ExtractOptions, echo_summary, run_extract
        from .sources import REAL_SPLIT, real_sources

        extracted = run_extract(ExtractOptions(real_sources(), config, out, REAL_SPLIT, None, opts.workers, validation=plan), show_progress=not quiet)
        echo_summary(extracted, out, real_sources())
    if summary_json is not None:
        report = {**asdict(summary), "rows_per_second": rate, "workers": opts.workers, "target_bytes": opts.target_bytes}
        summary_json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if counts.generator_errors:
        click.echo(f"{config}: warning: the generator raised {counts.generator_errors} times (a family bug; seeds skipped)", err=True)
    if counts.validated:
        click.echo(
            f"{config}: validated {counts.validated} rows with {'clang' if config == 'cpu' else 'NVRTC'} "
            f"in {counts.validation_seconds:.1f}s of worker time ({counts.validated / counts.validation_seconds:.1f} rows/s per worker); "
            + (f"{counts.rejected} rejected (see {out / config}/rejects-*.jsonl)" if counts.rejected else "none rejected")
        )


if __name__ == "__main__":
    run_cli(main, "build")
