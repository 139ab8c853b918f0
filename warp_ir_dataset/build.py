"""The build CLI: ``python -m warp_ir_dataset.build --config cuda --target-mb 200``.

Shards ``0, 1, 2, ...`` are built in parallel and accepted in index order until their Parquet
bytes reach the target; the last one is cut to the shortest prefix that reaches it. Every full
shard is on disk as soon as it is accepted, so an interrupted build resumes where it stopped,
and because a shard depends only on ``(config, seed, index)`` the result equals an
uninterrupted run.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import click

from .checks import BuildError, check_config, device_plans, prepare_folder
from .cli import run_cli
from .driver import drive
from .engines import ENGINES, Job
from .identity import build_identity, command_line, to_json
from .pipeline import EncodedShard, ShardCounts, ShardResult, ShardTask, build_shard, smallest_prefix_reaching, text_chars
from .progress import Progress
from .sources import GeneratedSource
from .validate import DEFAULT_ARCH, ValidationPlan
from .write import MB, ShardError, read_shard_metadata, shard_name, verify_shard, write_shard

DEFAULT_ROWS_PER_SHARD = 500


def _write_shard(folder: Path, index: int, shard: EncodedShard, rejects: list[dict]) -> None:
    # A cut shard keeps the rejects of the slots it holds.
    write_shard(folder, index, shard.files, [r for r in rejects if r.get("slot", -1) < shard.slots])


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
    max_code_chars: int | None = None  # None: the generator's default cap

    @property
    def identity(self) -> dict:
        """What determines the rows (not --out or --workers); see :mod:`~warp_ir_dataset.identity`."""
        return build_identity(self.config, self.target_bytes / MB, self.seed, self.rows_per_shard, self.validation, self.max_code_chars)

    @property
    def command(self) -> str:
        return command_line(self.identity)

    def task(self, index: int, slot_limit: int | None = None, text_goal: int | None = None, byte_goal: int | None = None) -> ShardTask:
        return ShardTask(
            self.config, GeneratedSource(self.seed), index, self.rows_per_shard, self.command, self.validation, slot_limit, text_goal,
            byte_goal, identity=to_json(self.identity), max_code_chars=self.max_code_chars,
        )


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


@dataclass(frozen=True)
class OnDisk:
    slots: int
    rows: int
    size: int
    final_for_target: int | None


def _scan(folder: Path, opts: BuildOptions) -> dict[int, OnDisk]:
    """Existing shards by index; refuses foreign, damaged or differently-built files."""
    identity = opts.task(0)
    metas: dict[tuple[int, str], tuple[Path, dict]] = {}
    for path in sorted(folder.glob("*.parquet")):
        meta = read_shard_metadata(path)
        if meta["source"] != GeneratedSource.kind:
            continue  # a split extracted from modules (`--real`, or `extract`): not this build's
        index, split = int(meta["shard_index"]), meta["split"]
        if path.name != shard_name(index, split):
            raise ShardError(f"{path}: holds {split} shard {index} under the wrong name")
        if differs := identity.mismatch(meta):
            key, theirs, want = differs
            raise ShardError(f"{path}: built with {key}={theirs}, this build uses {key}={want}; use another --out")
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
@dataclass(frozen=True)
class ConfigProgress:
    """Where one config stands: MB of its target, rows kept, rows ``building`` in shards not yet
    accepted, rows ``built`` by this run (what the rate counts: shards on disk cost nothing)."""

    mb_done: float
    rows: int
    building: int = 0
    built: int = 0


class BuildProgress:
    """One progress line for all the configs a build makes: rows kept (and being built) and MB of
    each config's target; the rate counts rows built by this run (shards on disk cost nothing)."""

    def __init__(self, configs: list[BuildOptions], enabled: bool = True):
        self.configs = [o.config for o in configs]
        self.targets_mb = [o.target_bytes / MB for o in configs]
        self.display = Progress(
            f"build {'+'.join(self.configs)}", round(sum(self.targets_mb), 2), "MB", enabled,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} MB [{elapsed}<{remaining}{postfix}]",
        )

    def update(self, states: list[ConfigProgress], final: bool = False, compiled: int = 0) -> None:
        """``states`` in the order of the configs given at the start; ``compiled``: rows of the
        shards being built through the compiler (and launched) so far, all configs together."""
        mb_done = sum(min(s.mb_done, t) for s, t in zip(states, self.targets_mb))

        def kept(s: ConfigProgress) -> str:
            return f"{s.rows} rows kept" + (f" (+{s.building} being built)" if s.building and not final else "")

        if len(states) == 1:
            bar_text = kept(states[0])
            line_text = f"{kept(states[0])}, {mb_done:.2f}/{self.display.total:.2f} MB"
        else:
            bar_text = ", ".join(f"{c} {s.rows} rows" for c, s in zip(self.configs, states))
            line_text = "; ".join(f"{c} {kept(s)}, {s.mb_done:.2f}/{t:.2f} MB" for c, s, t in zip(self.configs, states, self.targets_mb))
        if compiled and not final:
            bar_text += f", {compiled} compiled"
            line_text += f"; {compiled} compiled"
        # The size estimates are capped just below the target: what is left is the last shard's cut.
        finishing = not final and all(s.mb_done >= 0.99 * t for s, t in zip(states, self.targets_mb))
        self.display.show(round(mb_done, 2), sum(s.built for s in states), bar_text, line_text, final, "finishing" if finishing else None)

    def close(self) -> None:
        self.display.close()


# -- the build ---------------------------------------------------------------------------------
def run_builds(configs: list[BuildOptions], show_progress: bool = True) -> list[BuildSummary]:
    """Build one or more configs in one pass, each to its own target with its own validation:
    every kernel is generated, executed and built by Warp once, and its code generated for each
    config that needs that slot. Each config's shards are those of its own build, byte for byte.
    The configs share the seed, rows per shard, workers and engine."""
    for opts in configs:
        check_config(opts.config)
        if opts.target_bytes <= 0:
            raise BuildError("--target-mb must be positive")
    if len({o.config for o in configs}) != len(configs):
        raise BuildError("a config is named twice")
    shared = {(o.seed, o.rows_per_shard, o.workers, o.engine, o.ray_address) for o in configs}
    if len(shared) != 1:
        raise BuildError("configs built in one pass share --seed, --rows-per-shard, --workers and --engine")
    from .card_metadata import import_card_libraries, update_card_metadata

    # With worker processes this process mostly waits: it imports the card's libraries then.
    # (Building in this process, a second thread would only compete with it for the GIL.)
    importer = threading.Thread(target=import_card_libraries, daemon=True)
    locks = []
    try:
        folders = [opts.out / opts.config for opts in configs]
        locks = [prepare_folder(folder) for folder in folders]
        if configs[0].workers > 1 or configs[0].engine != "local":
            importer.start()
        targets = [_Target(folder, opts, _scan(folder, opts)) for folder, opts in zip(folders, configs)]
        summaries = _build_targets(targets, configs[0], show_progress)
    finally:
        for lock in locks:
            lock.close()
        if importer.is_alive():
            importer.join()
    for out in dict.fromkeys(opts.out for opts in configs):
        update_card_metadata(out)
    return summaries


class _Target:
    """One config's way to its size target: accepts its shards in index order and writes them,
    cuts the last one, and says which shard it needs built next (and how many of its slots)."""

    def __init__(self, folder: Path, opts: BuildOptions, on_disk: dict[int, OnDisk]):
        self.folder, self.opts, self.on_disk = folder, opts, on_disk
        self.summary = BuildSummary(opts.config)
        self.accepted_bytes = 0  # bytes of shards 0..next_accept-1, all full and on disk
        self.next_accept = 0
        self.next_submit = 0
        self.pending: set[int] = set()  # shards being built for this config
        self.ready: dict[int, ShardResult] = {}
        self.rows_in_flight: dict[int, int] = {}
        self.to_rebuild: list[int] = []  # limited last shards that must be built whole
        self.bytes_per_row = 6000.0  # a guess (about generator 4's cpu rows) until the first shard is measured
        self.built_bytes = self.built_text = 0  # of the shards built and accepted: file bytes per character of code
        self.done = False

    def full_on_disk(self, index: int) -> bool:
        return index in self.on_disk and self.on_disk[index].final_for_target is None

    def progress(self) -> ConfigProgress:
        # Sizes are only exact once a shard is encoded; in-flight rows are an estimate.
        building = 0 if self.done else sum(self.rows_in_flight.values())
        mb = (self.summary.bytes if self.done else min(self.accepted_bytes + building * self.bytes_per_row, 0.99 * self.opts.target_bytes)) / MB
        return ConfigProgress(mb, self.summary.rows, building, self.summary.rows_built + building)

    def accept(self) -> None:
        """Accept shards in index order while the total stays below the target."""
        opts, folder, on_disk, summary = self.opts, self.folder, self.on_disk, self.summary
        while not self.done:
            i = self.next_accept
            if i in on_disk and on_disk[i].final_for_target == opts.target_bytes:
                _keep_last_shard(folder, i, on_disk, summary)  # this very build, already finished
                return self._finish()
            if self.full_on_disk(i) and i not in self.ready:
                size, rows, result = on_disk[i].size, on_disk[i].rows, None
            elif i in self.ready:
                result = self.ready.pop(i)
                size, rows = result.full.size, result.counts.rows
                if not result.complete and (self.accepted_bytes + size < opts.target_bytes or not result.exact_prefix):
                    # A limited last shard that fell short of the target (or whose rows
                    # may differ from the full shard's): build the whole shard.
                    self.to_rebuild.append(i)
                    return
            else:
                return
            if self.accepted_bytes + size >= opts.target_bytes:
                if result is None:
                    raise BuildError(
                        f"{folder} already holds more than --target-mb {opts.target_bytes / MB:g}; "
                        "use a larger target or another --out"
                    )
                _finish_last_shard(folder, opts, result, opts.target_bytes - self.accepted_bytes, on_disk, summary)
                return self._finish()
            if result is not None:
                self.built_bytes += size
                self.built_text += text_chars(result.table)
                _write_shard(folder, i, result.full, result.rejects)
                summary.shards_built += 1
                summary.rows_built += rows
                summary.counts.add(result.counts)
                self.rows_in_flight.pop(i, None)
            self.accepted_bytes += size
            summary.shards += 1
            summary.rows += rows
            self.bytes_per_row = self.accepted_bytes / max(summary.rows, 1)
            self.next_accept += 1

    def _finish(self) -> None:
        self.summary.bytes += self.accepted_bytes
        self.done = True

    def next_wanted(self) -> tuple[int, LastShardCut] | None:
        """The shard this config needs built next and where it may stop (all ``None``: all its
        slots), or ``None`` while the shards already being built are expected to reach the target."""
        if self.done:
            return None
        opts = self.opts
        self.next_submit = max(self.next_submit, self.next_accept)
        while self.next_submit in self.ready or self.next_submit in self.pending or self.full_on_disk(self.next_submit):
            self.next_submit += 1
        ahead = len(self.pending) + len(self.ready) + sum(1 for j in self.on_disk if j >= self.next_accept)
        planned = self.accepted_bytes + self.bytes_per_row * opts.rows_per_shard * ahead
        if planned >= opts.target_bytes and self.pending:
            return None
        bytes_per_text = self.built_bytes / self.built_text if self.built_text else None
        cut = _last_shard_cut(opts, opts.target_bytes - planned, self.bytes_per_row, self.summary.rows > 0, bytes_per_text, exact=not ahead)
        return self.next_submit, cut


class _BuildPlan:
    """Keeps the workers busy with the shards the configs most likely need next; a shard index
    that several configs need is one job, built for all of them at once."""

    def __init__(self, targets: list[_Target], progress: BuildProgress):
        self.targets, self.progress = targets, progress
        self.by_config = {t.opts.config: t for t in targets}
        self.compiled: dict[int, int] = {}  # by shard index: rows compiled so far, all its configs (one job)

    def on_row(self, index: int, rows: int, checked: int) -> None:
        for t in self.targets:
            if index in t.pending:
                t.rows_in_flight[index] = rows
        self.compiled[index] = checked
        self.show()

    def _job(self, index: int, members: list[tuple[_Target, LastShardCut]]) -> Job:
        for t, _ in members:
            t.pending.add(index)
        return tuple(t.opts.task(index, *cut) for t, cut in members)

    def urgent_jobs(self) -> list[Job]:
        jobs = []
        for t in self.targets:
            t.accept()
            jobs += [self._job(index, [(t, WHOLE_SHARD)]) for index in t.to_rebuild]
            t.to_rebuild.clear()
        return jobs

    def finished(self) -> bool:
        return all(t.done for t in self.targets)

    def next_job(self) -> Job | None:
        wanted = {t: w for t in self.targets if (w := t.next_wanted()) is not None}
        if not wanted:
            return None
        index = min(i for i, _ in wanted.values())
        return self._job(index, [(t, cut) for t, (i, cut) in wanted.items() if i == index])

    def take(self, job: Job, results: tuple[ShardResult, ...]) -> None:
        for result in results:
            target = self.by_config[result.task.config]
            target.pending.discard(result.task.shard_index)
            if not target.done:
                target.ready[result.task.shard_index] = result
        self.compiled.pop(job[0].shard_index, None)

    def show(self, final: bool = False) -> None:
        self.progress.update([t.progress() for t in self.targets], final, sum(self.compiled.values()))


def _build_targets(targets: list[_Target], common: BuildOptions, show_progress: bool) -> list[BuildSummary]:
    started = time.perf_counter()
    progress = BuildProgress([t.opts for t in targets], enabled=show_progress)
    plan = _BuildPlan(targets, progress)
    try:
        drive(plan, common.engine, common.workers, common.ray_address)
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    for t in targets:
        t.summary.seconds = seconds
    return [t.summary for t in targets]


# The last shard is built only up to the rows its cut is expected to need: a full shard of
# which most rows would be cut away costs as much as any other, and one that falls short is
# built again whole. Its file bytes follow the characters of code built (measured on the
# build's own shards) within a few percent, so that is where it stops, with this margin;
TEXT_GOAL_MARGIN = 1.04
# before a shard of this build is measured it stops at a count of rows, with this margin on the
# bytes per row of the shards accepted so far,
LAST_SHARD_MARGIN = 1.2
# and before any shard is measured the bytes per row are a guess: the margin is this much wider
# (a 0.01 MB build would otherwise build all 500 slots of its only shard, 34 s here, to keep a
# few rows).
GUESSED_SIZE_MARGIN = 2.0


# Whatever the estimate, the shard itself stops once its kept rows encode to the bytes still
# needed (with this margin when shards still being built make that an estimate; a few bytes
# over when it is exact, for the metadata the cut adds): its later slots are neither built nor
# compiled. The limits above bound it when its rows are smaller than expected.
BYTE_GOAL_MARGIN = 1.04
BYTE_GOAL_SLACK = 1024


class LastShardCut(NamedTuple):
    slot_limit: int | None
    text_goal: int | None
    byte_goal: int | None = None


WHOLE_SHARD = LastShardCut(None, None)


def _last_shard_cut(opts: BuildOptions, remaining: float, bytes_per_row: float, known: bool, bytes_per_text: float | None,
                    exact: bool = False) -> LastShardCut:
    """Where the shard being submitted may stop: anywhere before its last slot only when it
    is expected to be the build's last shard (``exact``: no other shard is being built, so
    ``remaining`` is what the cut needs, not an estimate)."""
    byte_goal = int(max(remaining, 0) * (1.0 if exact else BYTE_GOAL_MARGIN)) + BYTE_GOAL_SLACK
    margin = LAST_SHARD_MARGIN * (1.0 if known else GUESSED_SIZE_MARGIN)
    if remaining >= bytes_per_row * opts.rows_per_shard:
        # Expected to be whole; but with no other shard being built the bytes still needed are
        # known, and a shard whose rows may reach them before its last slot (its rows larger than
        # the estimate) stops there as the build's last. Not for a target far beyond one shard:
        # the goal is checked by encoding the rows, which is not free.
        plausible = exact and remaining < bytes_per_row * opts.rows_per_shard * margin
        return LastShardCut(None, None, byte_goal) if plausible else WHOLE_SHARD
    if bytes_per_text:
        return LastShardCut(None, int(max(remaining, 0) / bytes_per_text * TEXT_GOAL_MARGIN) + 1, byte_goal)
    slots = int(max(remaining, 0) / bytes_per_row * margin) + 8
    return LastShardCut(slots, None, byte_goal) if slots < opts.rows_per_shard else LastShardCut(None, None, byte_goal)


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

    Same planning as :func:`run_builds` (full shards, then the last one cut to the fewest slots
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
@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", required=True, help="Device to generate code for: cpu, cuda, or both in one pass (cpu,cuda or all).")
@click.option("--target-mb", type=float, required=True, help="Stop when a config's shards reach this many MB (10^6 bytes) of Parquet on disk.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/production"), show_default=True, help="Dataset folder; a config's shards go in OUT/CONFIG/.")
@click.option("--seed", type=int, default=0, show_default=True, help="Build seed: same seed, same rows, byte for byte.")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--rows-per-shard", type=int, default=DEFAULT_ROWS_PER_SHARD, show_default=True, help="Rows in each full shard.")
@click.option("--validate", "validate", default="sample", show_default=True, help="Compile rows with Warp's toolchain (clang / NVRTC): none, sample (1 row in 20 per shard) or all.")
@click.option("--arch", default=f"sm_{DEFAULT_ARCH}", show_default=True, help="CUDA architecture that cuda rows are compiled (and PTX generated) for.")
@click.option("--ptx", is_flag=True, help="cuda only: compile every cuda row alone with NVRTC and store its PTX in the ptx column.")
@click.option("--max-code-chars", type=int, default=None, help=f"Drop a kernel whose generated code (forward, backward, helpers) is longer [default: {GeneratedSource.max_code_chars}].")
@click.option("--execute/--no-execute", "execute", default=True, show_default=True, help="Launch every test row and every row --validate compiles on the cpu, and store what it did (schema 3).")
@click.option("--engine", default="local", show_default=True, help="Where shards are built: local worker processes, or ray (a Ray cluster, see --ray-address).")
@click.option("--ray-address", default=None, help="Ray cluster to join with --engine ray (default: start a local Ray).")
@click.option("--real", is_flag=True, help="Also extract the `real` split (published Warp code: warp-lang's own, mujoco-warp) into OUT/CONFIG/real-*.parquet; on top of the target.")
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.option("--summary-json", type=click.Path(path_type=Path), default=None, help="Also write the build's summary (rows, MB, rows/s, counts, peak memory) as JSON here.")
def main(config, target_mb, out, seed, workers, rows_per_shard, validate, arch, ptx, max_code_chars, execute, engine, ray_address, real, quiet, summary_json) -> None:
    """Generate Warp kernels, run Warp's codegen on them, and write Parquet shards."""
    plans = device_plans(config, validate, arch, ptx, execute)
    configs = list(plans)
    if not target_mb > 0:
        raise BuildError(f"--target-mb must be a positive number of MB, got {target_mb:g}")
    if rows_per_shard < 1 or (workers is not None and workers < 1) or (max_code_chars is not None and max_code_chars < 1):
        raise BuildError("--rows-per-shard, --workers and --max-code-chars must be at least 1")
    if engine not in ENGINES:
        raise BuildError(f"unknown --engine {engine!r}; choose from {', '.join(ENGINES)}")
    if real:
        import importlib.util

        if importlib.util.find_spec("mujoco_warp") is None:
            raise BuildError("--real needs the published Warp code of the [real] extra: pip install 'warp-ir-dataset[real]' (./dev installs it)")
    workers = workers or os.cpu_count() or 1
    builds = [
        BuildOptions(c, int(target_mb * MB), out, seed, workers, rows_per_shard, plans[c], engine, ray_address, max_code_chars) for c in configs
    ]
    summaries = run_builds(builds, show_progress=not quiet)
    reports = {}
    for opts, summary in zip(builds, summaries):
        reports[opts.config] = _echo_summary(opts, summary)
    if real:
        from .extract import ExtractOptions, echo_summary, run_extracts
        from .sources import REAL_SPLIT, real_sources

        extracts = [ExtractOptions(real_sources(), opts.config, out, REAL_SPLIT, None, workers, validation=opts.validation) for opts in builds]
        for summary in run_extracts(extracts, show_progress=not quiet):
            echo_summary(summary, out, real_sources())
    if summary_json is not None:
        # One config: its summary, as always; several: one summary per config, the pass's time in each.
        report = reports[configs[0]] if len(configs) == 1 else {"configs": reports, "seconds": summaries[0].seconds, "workers": workers}
        summary_json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _echo_summary(opts: BuildOptions, summary: BuildSummary) -> dict:
    """Print a config's summary lines; return it as the JSON summary reports it."""
    config, out = opts.config, opts.out
    rate = summary.rows_built / summary.seconds if summary.seconds and summary.rows_built else 0.0
    click.echo(
        f"{config}: {summary.rows} rows in {summary.shards} shards, {summary.bytes / MB:.2f} MB "
        f"at {out / config} ({summary.rows_built} rows built now, {rate:.0f} rows/s; "
        f"{summary.counts.codegen_failures} kernels Warp could not build were replaced)"
    )
    counts = summary.counts
    if counts.generator_errors:
        families = ", ".join(f"{f} {n}" for f, n in sorted(counts.generator_errors.items()))
        click.echo(f"{config}: warning: the generator raised {sum(counts.generator_errors.values())} times ({families}): a family bug; "
                   "those seeds were skipped, the rest of the build is whole", err=True)
    if counts.validated:
        seconds = counts.validation_seconds + counts.execution_seconds
        click.echo(
            f"{config}: validated {counts.validated} rows with {'clang' if config == 'cpu' else 'NVRTC'}, executed {counts.executed} on the cpu "
            "(work done: rows the last shard's cut dropped count here too), "
            f"in {seconds:.1f}s of compiler time, side by side where cores were free ({counts.validated / max(seconds, 1e-9):.1f} rows/s per compile); "
            + (f"{counts.rejected} rejected (see {out / config}/rejects-*.jsonl)" if counts.rejected else "none rejected")
        )
    return {**asdict(summary), "rows_per_second": rate, "workers": opts.workers, "target_bytes": opts.target_bytes}


if __name__ == "__main__":
    run_cli(main, "build")
