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

from .progress import Progress
from .sources import DEFAULT_MODULE_TIMEOUT, DEFAULT_MODULES_PER_SHARD
from .write import ShardError, atomic_write, empty_marker_name, read_shard_metadata, rejects_name, report_name, shard_name, verify_shard

MB = 1_000_000


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

    @property
    def command(self) -> str:
        v = self.validation
        return (
            f"python -m warp_ir_dataset.extract {' '.join(self.sources)} --config {self.config} --split {self.split} "
            f"--modules-per-shard {self.modules_per_shard} --validate {v.mode}"
            + (f" --arch sm_{v.arch}" if self.config == "cuda" else "")
            + (" --ptx" if v.ptx else "")
            + (f" --license {self.license}" if self.license else "")
        )


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


def run_extract(opts: ExtractOptions, show_progress: bool = True) -> ExtractSummary:
    import time

    from .checks import BuildError, prepare_folder
    from .card import update_card_metadata
    from .engines import make_engine
    from .pipeline import ShardTask
    from .sources import ModuleSource, SourceError, find_modules
    from .validate import ValidationPlan

    plan = opts.validation or ValidationPlan()
    try:
        found = find_modules(list(opts.sources), opts.license)
    except SourceError as e:
        raise BuildError(str(e)) from None
    if not found.targets:
        raise BuildError(f"no Python files in {' '.join(opts.sources)}")
    if not found.warp_files:
        raise BuildError(f"no Warp kernel in {' '.join(opts.sources)} ({len(found.targets)} Python files searched, none imports warp)")
    source = ModuleSource(tuple(found.targets), opts.modules_per_shard, opts.module_timeout, seed=0)
    folder = opts.out / opts.config
    lock = prepare_folder(folder)
    started = time.perf_counter()
    summary = ExtractSummary(opts.config, opts.split, modules=len(found.targets), shards=source.shards)
    tasks = {i: ShardTask(opts.config, source, i, opts.modules_per_shard, opts.command, plan, split=opts.split) for i in range(source.shards)}
    progress = _ExtractProgress(f"extract {opts.config}", len(found.targets), show_progress)
    engine = None
    try:
        done = _finished_shards(folder, opts.split, tasks)
        for i in done:
            progress.advance(len(source.targets_of(i)), 0)
        rows_in_flight: dict[int, int] = {}

        def on_row(index: int, rows: int) -> None:
            rows_in_flight[index] = rows
            progress.rows(sum(rows_in_flight.values()))

        todo = [i for i in tasks if i not in done]
        if todo:
            engine = make_engine(opts.engine, opts.workers, on_row, opts.ray_address)
            from concurrent.futures import FIRST_COMPLETED, wait

            pending = {engine.submit((tasks[i],)): i for i in todo}
            while pending:
                finished, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
                engine.poll()
                for future in finished:
                    i = pending.pop(future)
                    (result,) = future.result()
                    _write_extracted(folder, opts.split, i, result)
                    rows_in_flight[i] = result.counts.rows
                    progress.advance(len(source.targets_of(i)), sum(rows_in_flight.values()))
        progress.close()
    finally:
        lock.close()
        if engine is not None:
            engine.shutdown()
    _summarize(folder, opts.split, found, summary)
    summary.seconds = time.perf_counter() - started
    atomic_write(folder / report_name(opts.split), (json.dumps(asdict(summary), indent=2, sort_keys=True) + "\n").encode())
    update_card_metadata(opts.out)
    return summary


def iter_extracted_tables(opts: ExtractOptions):
    """The extraction's shards as ``(index, table)``, built one by one in this process (each
    module still imported in a process of its own): the rows :func:`run_extract` writes, for
    the ``datasets`` builder class in ``builder_scripts/``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .pipeline import ShardTask, build_shard
    from .sources import ModuleSource, find_modules
    from .validate import ValidationPlan

    found = find_modules(list(opts.sources), opts.license)
    source = ModuleSource(tuple(found.targets), opts.modules_per_shard, opts.module_timeout, seed=0)
    plan = opts.validation or ValidationPlan()
    for index in range(source.shards):
        result = build_shard(ShardTask(opts.config, source, index, opts.modules_per_shard, opts.command, plan, split=opts.split))
        if result.counts.rows:
            yield index, pq.read_table(pa.BufferReader(result.full.files[opts.split]))


def _finished_shards(folder: Path, split: str, tasks: dict) -> set[int]:
    """Shards already on disk from the same sources and settings; refuses any other."""
    from .checks import BuildError

    found: list[tuple[Path, dict]] = [(p, read_shard_metadata(p)) for p in sorted(folder.glob(f"{split}-*.parquet"))]
    found += [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob(f".{split}-*.empty.json"))]
    done = set()
    for path, meta in found:
        index = int(meta["shard_index"])
        task = tasks.get(index)
        if task is None or path.name not in (shard_name(index, split), empty_marker_name(split, index)):
            raise BuildError(f"{path}: not a shard of this extraction (it has {len(tasks)} shards); use another --out")
        want = task.metadata(split, 0, 0, None)
        for key in ("config", "source", "source_digest", "validate", "arch", "ptx", "warp_version", "rows_per_shard"):
            if meta[key] != want[key]:
                raise BuildError(f"{path}: extracted with {key}={meta[key] or '-'}, this run has {key}={want[key] or '-'}; use another --out")
        if path.suffix == ".parquet":
            try:
                verify_shard(path)
            except ShardError as e:
                raise BuildError(str(e)) from None
        done.add(index)
    return done


def _write_extracted(folder: Path, split: str, index: int, result) -> None:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in result.rejects)
    rejects = folder / rejects_name(index, split)
    if text:
        atomic_write(rejects, text.encode())
    else:
        rejects.unlink(missing_ok=True)
    # Last: the shard's file (or its empty marker) says the shard is done.
    if result.counts.rows:
        (folder / empty_marker_name(split, index)).unlink(missing_ok=True)
        atomic_write(folder / shard_name(index, split), result.full.files[split])
    else:
        (folder / shard_name(index, split)).unlink(missing_ok=True)
        meta = result.task.metadata(split, 0, 0, None)
        atomic_write(folder / empty_marker_name(split, index), (json.dumps(meta, sort_keys=True) + "\n").encode())


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
    for path in sorted(folder.glob(f"{split}-*.parquet")):
        table = pq.read_table(path, columns=["origin", "license"])
        summary.rows += table.num_rows
        summary.bytes += path.stat().st_size
        for origin, license in zip(table.column("origin").to_pylist(), table.column("license").to_pylist()):
            by_package.setdefault(_package(origin), Counter())["extracted"] += 1
            licenses.setdefault(_package(origin), set()).add(license or "unknown")
    for path in sorted(folder.glob(f"rejects-{split}-*.jsonl")):
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
@click.option("--config", "config", required=True, help="Device to generate code for: cpu or cuda.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Dataset folder; rows go to OUT/CONFIG/SPLIT-NNNNN.parquet.")
@click.option("--split", default="train", show_default=True, help="Split name of the rows (the production build's extracted split is 'real').")
@click.option("--license", "license_", default=None, help="SPDX id of the code, recorded in every row (default: an installed distribution's own licence, else unknown).")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--validate", "validate", default="sample", show_default=True, help="Compile rows with Warp's toolchain: none, sample (1 row in 20) or all.")
@click.option("--arch", default="sm_90", show_default=True, help="CUDA architecture cuda rows are compiled for.")
@click.option("--ptx", is_flag=True, help="cuda only: store each row's own PTX.")
@click.option("--modules-per-shard", type=int, default=DEFAULT_MODULES_PER_SHARD, show_default=True, help="Modules imported per shard (the unit of work and of resume).")
@click.option("--module-timeout", type=float, default=DEFAULT_MODULE_TIMEOUT, show_default=True, help="Seconds one module may take to import before it is stopped and rejected.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--summary-json", type=click.Path(path_type=Path), default=None, help="Also write the summary as JSON here.")
def main(sources, config, out, split, license_, workers, validate, arch, ptx, modules_per_shard, module_timeout, quiet, summary_json) -> None:
    """Extract every Warp kernel that SOURCE registers (.py files, folders, or importable
    module/package names) into rows of the dataset's schema."""
    import os

    from .checks import BuildError, check_device_options

    plan = check_device_options(config, validate, arch, ptx)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", split) or split == "rejects":
        raise BuildError(f"--split must be a lowercase name like 'real', got {split!r}")
    if (workers is not None and workers < 1) or modules_per_shard < 1 or not module_timeout > 0:
        raise BuildError("--workers and --modules-per-shard must be at least 1, --module-timeout positive")
    opts = ExtractOptions(tuple(sources), config, out, split, license_, workers or os.cpu_count() or 1, modules_per_shard, module_timeout, plan)
    s = run_extract(opts, show_progress=not quiet)
    if summary_json is not None:
        summary_json.write_text(json.dumps(asdict(s), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    echo_summary(s, out, sources)


def _missing_packages(s: ExtractSummary) -> str:
    """The costliest packages the environment lacks, for a summary line ("" when none)."""
    costs = ", ".join(f"{name} ({c['modules']} modules, {c['kernels']} @wp.kernel)" for name, c in list(s.missing_packages.items())[:5])
    more = f" and {len(s.missing_packages) - 5} more (see {report_name(s.split)})" if len(s.missing_packages) > 5 else ""
    return costs + more


def echo_summary(s: ExtractSummary, out: Path, sources) -> None:
    if s.rows == 0:
        from .checks import BuildError

        missing = f"; packages this environment lacks: {_missing_packages(s)}" if s.missing_packages else ""
        raise BuildError(f"no kernel could be extracted from {' '.join(sources)} ({s.reached} reached; rejects in {out / s.config}{missing})")
    click.echo(
        f"{s.config}: {s.rows} rows from {s.modules} modules into {out / s.config}/{s.split}-*.parquet ({s.bytes / MB:.2f} MB, {s.seconds:.0f}s); "
        f"{s.reached} kernels reached by importing, against {s.decorated} @wp.kernel decorations in the files"
    )
    rejected = lambda d: ", ".join(f"{n} {k}" for k, n in d.items()) or "none"  # noqa: E731
    click.echo(f"{s.config}: modules rejected: {rejected(s.module_rejects)}; kernels rejected: {rejected(s.kernel_rejects)}")
    if s.missing_packages:
        click.echo(f"{s.config}: packages this environment lacks, costliest first: {_missing_packages(s)}; install them and extract again into an empty --out")


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "extract")
