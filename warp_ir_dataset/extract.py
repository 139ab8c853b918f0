"""The ``extract`` command: ``python -m warp_ir_dataset.extract SOURCE... --config cuda --out
DIR`` turns every kernel that the SOURCE modules register into rows, through the same shard
pipeline as ``build`` (a ``ModuleSource`` at its head instead of the generator), into
``DIR/CONFIG/SPLIT-NNNNN.parquet``.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from .checks import BuildError, device_plans, prepare_folder
from .identity import command_line, extract_identity, to_json
from .progress import Progress
from .sources import DEFAULT_MODULE_TIMEOUT, DEFAULT_MODULES_PER_SHARD, ModuleSource
from .validate import DEFAULT_ARCH, ValidationPlan
from .write import (MB, ShardError, atomic_write, empty_marker_name, empty_markers, read_shard_metadata, rejects_files, report_name, shard_name,
                    split_shards, verify_shard, write_shard)



@dataclass(frozen=True)
class ExtractOptions:
    sources: tuple[str, ...]
    config: str
    out: Path
    split: str = "train"
    license: str | None = None
    workers: int = 1
    modules_per_shard: int = DEFAULT_MODULES_PER_SHARD
    module_timeout: float = DEFAULT_MODULE_TIMEOUT
    validation: object = None  # ValidationPlan; None: the default plan
    engine: str = "local"
    ray_address: str | None = None
    max_code_chars: int | None = None  # None: the default cap for published code

    @property
    def identity(self) -> dict:

        return extract_identity(self.sources, self.config, self.split, self.modules_per_shard, self.validation or ValidationPlan(), self.license,
                                self.max_code_chars)

    @property
    def command(self) -> str:

        return command_line(self.identity)


@dataclass
class ExtractSummary:
    config: str
    split: str
    modules: int = 0
    shards: int = 0
    rows: int = 0
    bytes: int = 0
    decorated: int = 0  # @wp.kernel decorations written in the files
    reached: int = 0  # concrete kernels (overloads counted one each) that importing registered
    module_rejects: dict[str, int] = field(default_factory=dict)
    kernel_rejects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    by_package: dict[str, dict] = field(default_factory=dict)
    licenses: dict[str, list[str]] = field(default_factory=dict)  # package folder → SPDX ids of its rows
    license_sources: dict[str, list[str]] = field(default_factory=dict)  # package folder → where its licence was read
    # a package the environment lacks → the modules that failed to import for want of it and
    # the @wp.kernel decorations those modules hold: what installing it would let through
    missing_packages: dict[str, dict] = field(default_factory=dict)


def run_extracts(configs: list[ExtractOptions], show_progress: bool = True) -> list[ExtractSummary]:
    """Extract the same sources for one or more configs in one pass: each module is imported
    once and each kernel built by Warp once, its code generated for every config; each config's
    files equal those of its own extraction, byte for byte."""
    import time

    from .card_metadata import update_card_metadata
    from .driver import drive
    from .sources import SourceError, find_modules

    first = configs[0]
    if len({o.config for o in configs}) != len(configs) or any(
        (o.sources, o.out, o.split, o.license, o.workers, o.modules_per_shard, o.module_timeout, o.engine) !=
        (first.sources, first.out, first.split, first.license, first.workers, first.modules_per_shard, first.module_timeout, first.engine)
        for o in configs
    ):
        raise BuildError("configs extracted in one pass share their sources and settings, one config each")
    try:
        found = find_modules(list(first.sources), first.license)
    except SourceError as e:
        raise BuildError(str(e)) from None
    if not found.targets:
        raise BuildError(f"no Python files in {' '.join(first.sources)}")
    if not found.warp_files:
        raise BuildError(f"no Warp kernel in {' '.join(first.sources)} ({len(found.targets)} Python files searched, none imports warp)")
    source = ModuleSource(tuple(found.targets), first.modules_per_shard, first.module_timeout)
    folders = [o.out / o.config for o in configs]
    locks = []
    started = time.perf_counter()
    try:
        locks = [prepare_folder(folder) for folder in folders]
        plan = _ExtractPlan(configs, folders, source, show_progress)
        try:
            drive(plan, first.engine, first.workers, first.ray_address)
        except BaseException:
            plan.progress.display.close()  # no final line for a run that did not finish
            raise
        plan.progress.close()
    finally:
        for lock in locks:
            lock.close()
    summaries = []
    for opts, folder in zip(configs, folders):
        summary = ExtractSummary(opts.config, opts.split, modules=len(found.targets), shards=source.shards)
        _summarize(folder, opts.split, found, summary)
        summary.seconds = time.perf_counter() - started
        atomic_write(folder / report_name(opts.split), (json.dumps(asdict(summary), indent=2, sort_keys=True) + "\n").encode())
        summaries.append(summary)
    update_card_metadata(first.out)
    return summaries


class _ExtractPlan:
    """Every shard of the modules found, for each config that does not have it on disk yet; a
    shard index is one job for all those configs, written as it comes back."""

    def __init__(self, configs: list[ExtractOptions], folders: list[Path], source, show_progress: bool):
        from .pipeline import ShardTask

        self.folders = {o.config: f for o, f in zip(configs, folders)}
        self.source, self.split = source, configs[0].split
        tasks = {
            o.config: {
                i: ShardTask(o.config, source, i, o.modules_per_shard, o.command, o.validation or ValidationPlan(), split=o.split, identity=to_json(o.identity), max_code_chars=o.max_code_chars)
                for i in range(source.shards)
            }
            for o in configs
        }
        label = "+".join(o.config for o in configs)
        self.progress = _ExtractProgress(f"extract {label}", len(source.targets), show_progress)
        missing: dict[int, list] = {}
        self.rows_before = 0  # rows of the shards a run before this one finished (a resume)
        for config, by_index in tasks.items():
            done = _finished_shards(self.folders[config], self.split, by_index)
            self.rows_before += sum(done.values())
            for i, task in by_index.items():
                if i not in done:
                    missing.setdefault(i, []).append(task)
        self.todo = [tuple(missing[i]) for i in sorted(missing)]
        self.left = len(self.todo)
        for i in range(source.shards):
            if i not in missing:
                self.progress.advance(len(source.targets_of(i)), self.rows_before)
        self.rows_in_flight: dict[int, int] = {}  # by shard index: rows kept (of all its configs)

    def on_row(self, index: int, rows: int, checked: int) -> None:
        self.rows_in_flight[index] = rows
        self.progress.rows(self.rows_before + sum(self.rows_in_flight.values()))

    def urgent_jobs(self) -> list:
        return []

    def finished(self) -> bool:
        return self.left == 0

    def next_job(self):
        return self.todo.pop(0) if self.todo else None

    def take(self, job, results) -> None:
        index = job[0].shard_index
        for result in results:
            files = result.full.files if result.counts.rows else {}
            write_shard(self.folders[result.task.config], index, files, result.rejects, self.split, result.task.metadata(self.split, 0, 0, None))
        self.left -= 1
        self.rows_in_flight[index] = sum(r.counts.rows for r in results)
        self.progress.advance(len(self.source.targets_of(index)), self.rows_before + sum(self.rows_in_flight.values()))

    def show(self, final: bool = False) -> None:
        pass  # moves with the workers' reports and finished shards


def iter_extracted_tables(opts: ExtractOptions):
    """The extraction's shards as ``(index, table)``, built one by one in this process (each
    module still imported in a process of its own): the rows :func:`run_extracts` writes, for
    the ``datasets`` builder class in ``builder_scripts/``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .pipeline import ShardTask, build_shard
    from .sources import find_modules

    found = find_modules(list(opts.sources), opts.license)
    source = ModuleSource(tuple(found.targets), opts.modules_per_shard, opts.module_timeout)
    plan = opts.validation or ValidationPlan()
    for index in range(source.shards):
        result = build_shard(ShardTask(opts.config, source, index, opts.modules_per_shard, opts.command, plan, split=opts.split, identity=to_json(opts.identity), max_code_chars=opts.max_code_chars))
        if result.counts.rows:
            yield index, pq.read_table(pa.BufferReader(result.full.files[opts.split]))


def _finished_shards(folder: Path, split: str, tasks: dict) -> dict[int, int]:
    """Shards already on disk from the same sources and settings, with their rows; refuses any other."""

    found: list[tuple[Path, dict]] = [(p, read_shard_metadata(p)) for p in split_shards(folder, split)]
    found += [(p, json.loads(p.read_text(encoding="utf-8"))) for p in empty_markers(folder, split)]
    done: dict[int, int] = {}
    for path, meta in found:
        index = int(meta["shard_index"])
        task = tasks.get(index)
        if task is None or path.name not in (shard_name(index, split), empty_marker_name(split, index)):
            raise BuildError(f"{path}: not a shard of this extraction (it has {len(tasks)} shards); use another --out")
        if differs := task.mismatch(meta):
            key, theirs, want = differs
            raise BuildError(f"{path}: extracted with {key}={theirs or '-'}, this run has {key}={want or '-'}; use another --out")
        if path.suffix == ".parquet":
            try:
                verify_shard(path)
            except ShardError as e:
                raise BuildError(str(e)) from None
        done[index] = int(meta.get("rows") or 0)
    return done


def _package(origin: str) -> str:
    """The distribution and first two folders of an origin, what figures are grouped by:
    ``mujoco-warp==4.0.0:mujoco_warp/_src/smooth.py:12`` → ``mujoco-warp==4.0.0:mujoco_warp/_src``."""
    origin = re.sub(r":\d+$", "", origin)
    dist, _, path = origin.rpartition(":")
    folders = path.split("/")[:-1]
    return (dist + ":" if dist else "") + ("/".join(folders[:2]) or ".")


def _summarize(folder: Path, split: str, found, summary: ExtractSummary) -> None:
    """Kernels found, extracted and rejected (by reason), overall and per package folder,
    read back from the shards and rejects on disk (so a resumed run reports the whole)."""
    import pyarrow.parquet as pq

    by_package: dict[str, Counter] = {}
    for origin, n in found.decorations.items():
        by_package.setdefault(_package(origin), Counter())["decorated"] += n
    module_rejects, kernel_rejects = Counter(), Counter()
    missing: dict[str, Counter] = {}
    licenses: dict[str, set[str]] = {}
    for path in split_shards(folder, split):
        table = pq.read_table(path, columns=["origin", "license"])
        summary.rows += table.num_rows
        summary.bytes += path.stat().st_size
        for origin, license in zip(table.column("origin").to_pylist(), table.column("license").to_pylist()):
            by_package.setdefault(_package(origin), Counter())["extracted"] += 1
            licenses.setdefault(_package(origin), set()).add(license or "unknown")
    for path in rejects_files(folder, split):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            pkg = by_package.setdefault(_package(r["origin"]), Counter())
            if r.get("kernel") is None:
                module_rejects[r["reason"]] += 1
                pkg["modules_rejected"] += 1
                if r["reason"] == "import-error" and (m := _MISSING_MODULE.search(r["message"])):
                    cost = missing.setdefault(m.group(1).split(".")[0], Counter())
                    cost["modules"] += 1
                    cost["kernels"] += found.decorations.get(r["origin"], 0)
            else:
                kernel_rejects[r["reason"]] += 1
                pkg["kernels_rejected"] += 1
    for c in by_package.values():
        c["reached"] = c["extracted"] + c["kernels_rejected"]
    summary.decorated = sum(found.decorations.values())
    summary.reached = summary.rows + sum(kernel_rejects.values())
    summary.module_rejects = dict(sorted(module_rejects.items()))
    summary.kernel_rejects = dict(sorted(kernel_rejects.items()))
    summary.by_package = {k: dict(sorted(v.items())) for k, v in sorted(by_package.items())}
    summary.licenses = {k: sorted(v) for k, v in sorted(licenses.items())}
    license_sources: dict[str, set[str]] = {}
    for origin, where in found.license_sources.items():
        license_sources.setdefault(_package(origin), set()).add(where)
    summary.license_sources = {k: sorted(v) for k, v in sorted(license_sources.items())}
    summary.missing_packages = {k: dict(sorted(v.items())) for k, v in sorted(missing.items(), key=lambda kv: (-kv[1]["kernels"], -kv[1]["modules"], kv[0]))}


_MISSING_MODULE = re.compile(r"^ModuleNotFoundError: No module named '([\w.]+)'", re.M)


class _ExtractProgress:
    """Modules imported of all found, rows kept, rows/s and ETA by modules."""

    def __init__(self, label: str, modules: int, enabled: bool):
        self.display = Progress(label, modules, "module", enabled)
        self.done, self.kept = 0, 0

    def rows(self, kept: int) -> None:
        self.kept = max(self.kept, kept)
        self._show()

    def advance(self, modules: int, kept: int) -> None:
        self.done += modules
        self.rows(kept)

    def _show(self, final: bool = False) -> None:
        text = f"{self.kept} rows kept"
        self.display.show(self.done, self.kept, text, f"{self.done}/{self.display.total} modules, {text}", final)

    def close(self) -> None:
        self._show(final=True)
        self.display.close()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sources", nargs=-1, required=True)
@click.option("--config", "config", required=True, help="Device to generate code for: cpu, cuda, or both in one pass (cpu,cuda or all).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Dataset folder; rows go to OUT/CONFIG/SPLIT-NNNNN.parquet.")
@click.option("--split", default="train", show_default=True, help="Split name of the rows (the production build's extracted split is 'real').")
@click.option("--license", "license_", default=None, help="SPDX id of the code, recorded in every row (default: an installed distribution's own licence, else unknown).")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--validate", "validate", default="sample", show_default=True, help="Compile rows with Warp's toolchain: none, sample (1 row in 20) or all.")
@click.option("--arch", default=f"sm_{DEFAULT_ARCH}", show_default=True, help="CUDA architecture cuda rows are compiled for.")
@click.option("--ptx", is_flag=True, help="cuda only: store each row's own PTX.")
@click.option("--max-code-chars", type=int, default=None, help=f"Drop a kernel whose generated code (forward, backward, helpers) is longer [default: {ModuleSource.max_code_chars}].")
@click.option("--modules-per-shard", type=int, default=DEFAULT_MODULES_PER_SHARD, show_default=True, help="Modules imported per shard (the unit of work and of resume).")
@click.option("--module-timeout", type=float, default=DEFAULT_MODULE_TIMEOUT, show_default=True, help="Seconds one module may take to import before it is stopped and rejected.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--summary-json", type=click.Path(path_type=Path), default=None, help="Also write the summary as JSON here.")
def main(sources, config, out, split, license_, workers, validate, arch, ptx, max_code_chars, modules_per_shard, module_timeout, quiet, summary_json) -> None:
    """Extract every Warp kernel that SOURCE registers (.py files, folders, or importable
    module/package names) into rows of the dataset's schema."""
    import os


    plans = device_plans(config, validate, arch, ptx)
    configs = list(plans)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", split) or split == "rejects":
        raise BuildError(f"--split must be a lowercase name like 'real', got {split!r}")
    if (workers is not None and workers < 1) or modules_per_shard < 1 or (max_code_chars is not None and max_code_chars < 1) or not module_timeout > 0:
        raise BuildError("--workers, --modules-per-shard and --max-code-chars must be at least 1, --module-timeout positive")
    workers = workers or os.cpu_count() or 1
    runs = [ExtractOptions(tuple(sources), c, out, split, license_, workers, modules_per_shard, module_timeout, plans[c], max_code_chars=max_code_chars)
            for c in configs]
    summaries = run_extracts(runs, show_progress=not quiet)
    if summary_json is not None:
        # One config: its summary, as always; several: one per config.
        report = asdict(summaries[0]) if len(summaries) == 1 else {"configs": {s.config: asdict(s) for s in summaries}}
        summary_json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for s in summaries:
        echo_summary(s, out, sources)


def _missing_packages(s: ExtractSummary) -> str:
    """The costliest packages the environment lacks, for a summary line ("" when none)."""
    costs = ", ".join(f"{name} ({c['modules']} modules, {c['kernels']} @wp.kernel)" for name, c in list(s.missing_packages.items())[:5])
    more = f" and {len(s.missing_packages) - 5} more (see {report_name(s.split)})" if len(s.missing_packages) > 5 else ""
    return costs + more


def echo_summary(s: ExtractSummary, out: Path, sources) -> None:
    if s.rows == 0:

        missing = f"; packages this environment lacks: {_missing_packages(s)}" if s.missing_packages else ""
        if not s.decorated and not s.module_rejects:
            raise BuildError(f"no kernel could be extracted from {' '.join(sources)}: no @wp.kernel in it{missing}")
        rejected = s.module_rejects or s.kernel_rejects
        why = f"; why, in {out / s.config}/rejects-{s.split}-*.jsonl" if rejected else ""
        raise BuildError(f"no kernel could be extracted from {' '.join(sources)} ({s.decorated} @wp.kernel decorations, "
                         f"{s.reached} kernels reached by importing{why}{missing})")
    click.echo(
        f"{s.config}: {s.rows} rows from {s.modules} module{'s' if s.modules != 1 else ''} into {out / s.config}/{s.split}-*.parquet ({s.bytes / MB:.2f} MB, {s.seconds:.0f}s); "
        f"{s.reached} kernels reached by importing, against {s.decorated} @wp.kernel decorations in the files"
    )
    rejected = lambda d: ", ".join(f"{n} {k}" for k, n in d.items()) or "none"  # noqa: E731
    click.echo(f"{s.config}: modules rejected: {rejected(s.module_rejects)}; kernels rejected: {rejected(s.kernel_rejects)}")
    if s.missing_packages:
        click.echo(f"{s.config}: packages this environment lacks, costliest first: {_missing_packages(s)}; install them and extract again into an empty --out")


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "extract")
