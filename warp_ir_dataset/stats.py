"""Statistics of a built dataset, computed from the shards on disk.

``python -m warp_ir_dataset.stats FOLDER [--config cpu|cuda] [--json]``

Shards are streamed in small record batches, so memory does not grow with the size of the text;
what is kept per row is small (lengths, a fingerprint, and the shingle hashes of each distinct
source, about 1 KB, for exact near-duplicate checks). The output is deterministic: sorted keys,
no timestamps, no absolute paths.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import zlib
from collections import Counter, deque
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .distribution import distribution, percent
from .progress import Progress
from .realism import RealismAcc
from .realism import compare as compare_realism
from .realism import summary as realism_summary
from .schema import CONFIGS, ROW_SCHEMA
from .write import ShardError, read_shard_metadata, rejects_files, shard_files

LENGTH_COLUMNS = ("python_source", "forward_code", "backward_code", "helper_code", "ptx")
LIST_COLUMNS = ("arg_names", "arg_types", "builtins")
BEHAVIOUR_COLUMNS = ("inputs", "outputs", "output_grads", "input_grads")  # executed rows' values (schema 3)
# Columns of text (strings, lists of strings): what the text-bytes figures count. The values of
# executed rows (lists of numbers) are counted apart.
TEXT_COLUMNS = tuple(
    f.name for f in ROW_SCHEMA if pa.types.is_string(f.type) or (pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type))
)
REPORTED_METADATA = ("arch", "build_command", "generator_version", "identity", "ptx", "rows_per_shard", "schema_version", "seed", "validate", "warp_version")

NEAR_DUP_THRESHOLD = 0.8
NUM_PERM = 64
SHINGLE = 5
TOKEN = re.compile(r"\w+|[^\w\s]")

REALISM_FEATURE_ROWS = 10_000  # synthetic rows whose language features are tested (evenly spread)
BATCH_ROWS = 256  # ptx rows can be ~100 KB each: a batch stays a few MB
POOL_MIN_ROWS = 4000  # below this, worker start-up costs more than it saves



def _iter_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise ShardError(f"{path.parent.name}/{path.name}: damaged shard ({str(e).splitlines()[0]})") from None


def _read_rejects(folder: Path, config: str) -> Counter:
    reasons: Counter = Counter()
    for path in rejects_files(folder / config):  # the build's own; extracted splits report theirs
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                reasons[str(json.loads(line).get("reason", "unknown"))] += 1
            except (json.JSONDecodeError, AttributeError):
                raise ShardError(f"{config}/{path.name}:{n}: not a JSON object") from None
    return reasons


# -- per-source analysis (runs in worker processes for large datasets) --------------------------
def shingle_hashes(source: str) -> np.ndarray:
    """Sorted, unique 32-bit hashes of the token 5-grams of ``source`` (the set to compare)."""
    tokens = TOKEN.findall(source)
    h = np.fromiter((zlib.crc32(t.encode()) for t in tokens), dtype=np.uint64, count=len(tokens))
    n = max(len(h) - SHINGLE + 1, 1)  # a source shorter than a shingle is one shingle
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(min(SHINGLE, len(h))):
            acc = acc * np.uint64(0x100000001B3) + h[k : k + n]
            acc ^= acc >> np.uint64(29)
    return np.unique((acc >> np.uint64(32)).astype(np.uint32))


def _identity(x):  # noqa: ANN001, ANN202 - shingles are hashed already
    return x


@dataclass(frozen=True)
class SourceInfo:
    digest: bytes
    fingerprint: str
    shingles: np.ndarray
    minhash: np.ndarray


def analyze_sources(sources: list[str]) -> list[SourceInfo]:
    from datasketch import MinHash

    from .fingerprint import fingerprint

    shingles = [shingle_hashes(s) for s in sources]
    minhashes = MinHash.bulk(shingles, num_perm=NUM_PERM, hashfunc=_identity)
    digests = [hashlib.blake2b(s.encode(), digest_size=16).digest() for s in sources]
    return [SourceInfo(d, fingerprint(s), sh, m.hashvalues) for s, d, sh, m in zip(sources, digests, shingles, minhashes)]


def _ordered_map(fn: Callable, arg: Callable, items: Iterable, executor: Executor | None, window: int) -> Iterator:
    """``(item, fn(arg(item)))`` in order, with at most ``window`` items in flight so input is
    not read ahead; only ``arg(item)`` travels to the workers."""
    if executor is None:
        yield from ((item, fn(arg(item))) for item in items)
        return
    pending: deque = deque()
    for item in items:
        pending.append((item, executor.submit(fn, arg(item))))
        if len(pending) >= window:
            item, future = pending.popleft()
            yield item, future.result()
    while pending:
        item, future = pending.popleft()
        yield item, future.result()


# -- accumulators ------------------------------------------------------------------------------
def _lines(arr: pa.Array) -> pa.Array:
    """Lines per string: newlines, plus one for a last line without a newline."""
    n = pc.binary_length(arr)
    unterminated = pc.and_(pc.greater(n, 0), pc.invert(pc.ends_with(arr, "\n")))
    return pc.add(pc.count_substring(arr, "\n"), pc.cast(unterminated, pa.int32()))


@dataclass
class SplitAcc:
    """What one split of one config adds up to; several merge into the config total."""

    rows: int = 0
    files: int = 0
    parquet_bytes: int = 0
    text_bytes: Counter = field(default_factory=Counter)
    families: Counter = field(default_factory=Counter)
    validation: Counter = field(default_factory=Counter)
    builtins: Counter = field(default_factory=Counter)  # rows calling each builtin
    nulls: Counter = field(default_factory=Counter)
    lengths: dict[str, list[np.ndarray]] = field(default_factory=dict)  # "col/bytes" → chunks
    executed: Counter = field(default_factory=Counter)  # executed rows by family
    behaviour_values: int = 0  # numbers stored in the executed rows' inputs, outputs and gradients

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        executed = pc.equal(batch.column("validation"), "executed")
        for item in pc.value_counts(pc.filter(batch.column("family"), executed)).to_pylist():
            self.executed[item["values"]] += item["counts"]
        for name in BEHAVIOUR_COLUMNS:
            values = pc.list_flatten(batch.column(name))
            if len(values):
                for part in ("floats", "ints"):
                    self.behaviour_values += int(pc.sum(pc.list_value_length(pc.struct_field(values, part))).as_py() or 0)
        for name in TEXT_COLUMNS:
            col = batch.column(name)
            flat = pc.list_flatten(col) if name in LIST_COLUMNS else col
            self.text_bytes[name] += int(pc.sum(pc.binary_length(flat)).as_py() or 0)
        for name, counts in (("family", self.families), ("validation", self.validation)):
            for item in pc.value_counts(batch.column(name)).to_pylist():
                counts[item["values"]] += item["counts"]
        for item in pc.value_counts(pc.list_flatten(batch.column("builtins"))).to_pylist():
            self.builtins[item["values"]] += item["counts"]
        for name in LENGTH_COLUMNS:
            col = batch.column(name)
            self.nulls[name] += col.null_count
            col = col.drop_null()
            for unit, arr in (("bytes", pc.binary_length(col)), ("lines", _lines(col))):
                self.lengths.setdefault(f"{name}/{unit}", []).append(arr.to_numpy(zero_copy_only=False).astype(np.int64))


def summarize(accs: list[SplitAcc]) -> dict:
    def total(attr: str) -> Counter:
        return sum((getattr(a, attr) for a in accs), Counter())

    lengths = {}
    for name in LENGTH_COLUMNS:
        entry: dict = {"null": int(total("nulls")[name])}
        for unit in ("bytes", "lines"):
            chunks = [c for a in accs for c in a.lengths.get(f"{name}/{unit}", [])]
            entry[unit] = distribution(np.concatenate(chunks) if chunks else np.zeros(0, np.int64))
        entry["present"] = entry["bytes"]["count"]
        entry["empty"] = int(sum(int((c == 0).sum()) for a in accs for c in a.lengths.get(f"{name}/bytes", [])))
        lengths[name] = entry
    text = total("text_bytes")
    return {
        "rows": sum(a.rows for a in accs),
        "parquet_files": sum(a.files for a in accs),
        "parquet_bytes": sum(a.parquet_bytes for a in accs),
        "text_bytes": {c: int(text[c]) for c in TEXT_COLUMNS},
        "text_bytes_total": int(sum(text.values())),
        "rows_per_family": dict(sorted(total("families").items())),
        "validation": dict(sorted(total("validation").items())),
        "lengths": lengths,
        "behaviour": {
            "executed": int(sum(total("executed").values())),
            "executed_by_family": dict(sorted(total("executed").items())),
            "values": sum(a.behaviour_values for a in accs),  # 8 bytes each in Arrow, before compression
        },
    }


class NearDuplicates:
    """Rows whose python_source has a partner with token-5-gram Jaccard ≥ the threshold.

    Identical sources are partners without a check; each distinct source goes into a MinHash LSH
    index, and every candidate pair it returns is confirmed with the exact Jaccard of the
    shingle sets.
    """

    def __init__(self) -> None:
        from datasketch import MinHash, MinHashLSH

        self.lsh = MinHashLSH(threshold=NEAR_DUP_THRESHOLD, num_perm=NUM_PERM)
        self.permutations = MinHash(num_perm=NUM_PERM).permutations
        self.first_row: dict[bytes, int] = {}  # digest → first row with that source
        self.shingles: list[np.ndarray] = []  # by LSH key
        self.key_row: list[int] = []
        self.split: bytearray = bytearray()  # split code per row
        self.has_partner: set[int] = set()
        self.test_rows_near_train: set[int] = set()
        self.candidate_pairs = 0
        self.confirmed_pairs = 0

    def add(self, row: int, split_code: int, info: SourceInfo) -> None:
        from datasketch import MinHash

        self.split.append(split_code)
        first = self.first_row.setdefault(info.digest, row)
        if first != row:
            self.has_partner.update((first, row))
            return
        m = MinHash(hashvalues=info.minhash, permutations=self.permutations, scheme="affine32")
        for key in sorted(self.lsh.query(m)):
            other = self.key_row[key]
            crosses = self.split[other] != split_code
            if {row, other} <= self.has_partner and not crosses:
                continue  # both already known to have a partner: checking adds nothing
            self.candidate_pairs += 1
            a, b = self.shingles[key], info.shingles
            inter = len(np.intersect1d(a, b, assume_unique=True))
            if inter / (len(a) + len(b) - inter) >= NEAR_DUP_THRESHOLD:
                self.confirmed_pairs += 1
                self.has_partner.update((row, other))
                if crosses:
                    self.test_rows_near_train.add(row if split_code else other)
        self.lsh.insert(len(self.key_row), m)
        self.key_row.append(row)
        self.shingles.append(info.shingles)

    def result(self, rows: int) -> dict:
        return {
            "threshold": NEAR_DUP_THRESHOLD,
            "num_perm": NUM_PERM,
            "shingle_tokens": SHINGLE,
            "distinct_sources": len(self.first_row),
            "exact_duplicate_rows": rows - len(self.first_row),
            "near_duplicate_rows": len(self.has_partner),
            "near_duplicate_share": _share(len(self.has_partner), rows),
            "lsh_candidates_checked": self.candidate_pairs,
            "confirmed_pairs": self.confirmed_pairs,
            "test_rows_with_near_duplicate_in_train": len(self.test_rows_near_train),
        }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


# -- one config --------------------------------------------------------------------------------
def _metadata_summary(metas: list[dict[str, str]]) -> dict[str, list[str]]:
    return {k: sorted({m[k] for m in metas if m.get(k)}) for k in REPORTED_METADATA}


def config_stats(folder: Path, config: str, executor: Executor | None, workers: int, builtins: frozenset[str], groups: dict[str, str] | None,
                 on_rows: Callable[[int], None] | None = None) -> tuple[dict, dict[str, set[str]]]:
    files = shard_files(folder, config)
    metas = [read_shard_metadata(p) for paths in files.values() for p in paths]
    accs = {split: SplitAcc() for split in files}
    near = NearDuplicates()
    fingerprints: Counter = Counter()
    split_fps: dict[str, set[str]] = {split: set() for split in files}
    split_codes = {split: 0 if split == "train" else i + 1 for i, split in enumerate(files)}

    def batches() -> Iterator[tuple[str, pa.RecordBatch]]:
        for split, paths in files.items():
            for path in paths:
                accs[split].files += 1
                accs[split].parquet_bytes += path.stat().st_size
                for batch in _iter_batches(path, list(TEXT_COLUMNS) + list(BEHAVIOUR_COLUMNS)):
                    yield split, batch

    # Splits extracted from published code (`build --real`) are reported on their own: the
    # figures of the synthetic data (duplicates, structure, builtins) are the generator's.
    extracted = {m["split"] for m in metas if m.get("source") == "modules"}
    if extracted == set(files):
        extracted = set()  # a folder of extracted code only: its splits are the data
    synthetic_rows = sum(int(m["rows"]) for m in metas if m["split"] not in extracted)
    every = max(1, -(-synthetic_rows // REALISM_FEATURE_ROWS))  # feature tests on an even sample
    realism = {"synthetic": RealismAcc()}
    row = 0
    sources = lambda item: item[1].column("python_source").to_pylist()  # noqa: E731
    for (split, batch), infos in _ordered_map(analyze_sources, sources, batches(), executor, 2 * workers):
        accs[split].add(batch)
        for i, (text, name, calls, origin) in enumerate(zip(*(batch.column(c).to_pylist() for c in ("python_source", "kernel_name", "builtins", "origin")))):
            if split in extracted:
                for group in ("all", (origin or "").split(":")[0] or "unknown"):
                    realism.setdefault(f"{split}:{group}", RealismAcc()).add(text, name, calls, per_function=True)
            else:
                realism["synthetic"].add(text, name, calls, per_function=False, features=(row + i) % every == 0)
        for info in infos:
            split_fps[split].add(info.fingerprint)
            if split in extracted:
                continue
            fingerprints[info.fingerprint] += 1
            near.add(row, split_codes[split], info)
            row += 1
        if on_rows is not None:
            on_rows(batch.num_rows)

    synthetic_fps = set().union(*(fps for split, fps in split_fps.items() if split not in extracted))
    extracted_stats = {
        split: {
            "rows": accs[split].rows,
            "distinct_fingerprints": len(split_fps[split]),
            "fingerprints_also_in_synthetic_splits": len(split_fps[split] & synthetic_fps),
            "builtins_called": len(set(accs[split].builtins)),
            "extraction": _extraction_report(folder, config, split),
        }
        for split in sorted(extracted)
    }
    calls = sum((a.builtins for s_, a in accs.items() if s_ not in extracted), Counter())
    realism_out = None
    if extracted:
        synthetic = realism_summary(realism["synthetic"])
        realism_out = {"synthetic": synthetic, "real": {}}
        for key, acc in sorted(realism.items()):
            if key != "synthetic":
                real = realism_summary(acc)
                realism_out["real"][key] = {**real, "comparison": compare_realism(synthetic, real)}
    used = set(calls)
    kernel_used = used & builtins
    largest = fingerprints.most_common(1)[0][1] if fingerprints else 0
    train_fps = split_fps.get("train", set())
    shared = set().union(*(fps & train_fps for s, fps in split_fps.items() if s != "train" and s not in extracted))
    rejects = _read_rejects(folder, config)
    out: dict = {
        "metadata": _metadata_summary(metas),
        "total": summarize([a for s_, a in accs.items() if s_ not in extracted]),
        "extracted_splits": extracted_stats,
        "realism": realism_out,
        "splits": {s: summarize([a]) for s, a in accs.items()},
        "structure": {
            "distinct_fingerprints": len(fingerprints),
            "distinct_fingerprint_share": _share(len(fingerprints), row),
            "largest_fingerprint_rows": largest,
            "largest_fingerprint_share": _share(largest, row),
            "fingerprints_shared_train_test": len(shared),
        },
        "duplicates": near.result(row),
        "builtins": {
            "kernel_callable": len(builtins),
            "distinct_used": len(kernel_used),
            "coverage": _share(len(kernel_used), len(builtins)),
            "rows_per_builtin": dict(sorted(calls.items())),
            "not_kernel_callable_used": sorted(used - builtins),
            "unused": sorted(builtins - used),
            "by_group": _group_coverage(kernel_used, builtins, groups),
        },
        "rejects": {"rows": sum(rejects.values()), "by_reason": dict(sorted(rejects.items()))},
    }
    return out, split_fps


def _group_coverage(used: set[str], builtins: frozenset[str], groups: dict[str, str]) -> dict:
    out: dict[str, dict] = {}
    for name in sorted(builtins):
        g = out.setdefault(groups.get(name, "Other"), {"kernel_callable": 0, "distinct_used": 0})
        g["kernel_callable"] += 1
        g["distinct_used"] += name in used
    for g in out.values():
        g["coverage"] = _share(g["distinct_used"], g["kernel_callable"])
    return dict(sorted(out.items()))


def _builtin_registry() -> tuple[frozenset[str], dict[str, str]]:
    from . import _warp

    return _warp.kernel_builtins(), dict(_warp.builtin_groups())  # name → Warp's documentation group


def _extraction_report(folder: Path, config: str, split: str) -> dict | None:
    """What ``extract`` wrote about the split (kernels reached and rejected, per package)."""
    from .write import report_name

    path = folder / config / report_name(split)
    if not path.is_file():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    report.pop("seconds", None)  # wall time: not a property of the data
    return report


# -- the whole folder --------------------------------------------------------------------------
def compute_stats(folder: Path, configs: Iterable[str] | None = None, workers: int | None = None, show_progress: bool = False) -> dict:
    """Statistics of every config (or those named) in a dataset folder; see the module doc.
    ``show_progress``: rows read so far, on stderr (a 200 MB folder takes minutes)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ShardError(f"{folder}: no such dataset folder")
    wanted = list(configs) if configs else [c for c in CONFIGS if shard_files(folder, c)]
    for config in wanted:
        if config not in CONFIGS:
            raise ShardError(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")
        if not shard_files(folder, config):
            raise ShardError(f"{folder}: no {config} shards ({config}/*.parquet)")
    if not wanted:
        raise ShardError(f"{folder}: no shards (expected {' or '.join(f'{c}/train-*.parquet' for c in CONFIGS)})")
    metas = [read_shard_metadata(p) for c in wanted for ps in shard_files(folder, c).values() for p in ps]
    rows = sum(int(m["rows"]) for m in metas)
    workers = workers or min(os.cpu_count() or 1, 8)
    builtins, groups = _builtin_registry()
    executor = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 and rows >= POOL_MIN_ROWS else None
    progress = Progress(f"stats {'+'.join(wanted)}", rows, "row", enabled=show_progress)
    read = 0

    def advance(n: int) -> None:
        nonlocal read
        read += n
        progress.show(read, read, f"{read}/{rows} rows", f"{read} of {rows} rows read", final=read >= rows)

    try:
        out: dict = {"configs": {}, "schema_columns": list(ROW_SCHEMA.names)}
        train, held_out = set(), set()
        for config in wanted:
            out["configs"][config], split_fps = config_stats(folder, config, executor, workers, builtins, groups, advance)
            for split, fps in split_fps.items():
                (train if split == "train" else held_out).update(fps)
        out["fingerprints_shared_train_test_across_configs"] = len(train & held_out)
        out["kernel_callable_builtins"] = len(builtins)
    finally:
        progress.close()
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return json.loads(json.dumps(out, sort_keys=True))  # plain JSON types, keys sorted everywhere


def dumps(stats: dict) -> str:
    return json.dumps(stats, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# -- the readable summary ----------------------------------------------------------------------
def summary_lines(stats: dict) -> list[str]:
    lines = []
    for config, s in stats["configs"].items():
        t, d, st, b = s["total"], s["duplicates"], s["structure"], s["builtins"]
        splits = ", ".join(f"{k} {v['rows']}" for k, v in s["splits"].items())
        lines += [
            f"{config}: {t['rows']} rows ({splits}), {t['parquet_bytes'] / 1e6:.2f} MB Parquet in {t['parquet_files']} files, "
            f"{t['text_bytes_total'] / 1e6:.2f} MB of text, {len(t['rows_per_family'])} families",
            f"  exact duplicate python_source:            {d['exact_duplicate_rows']}",
            f"  rows with distinct structural fingerprint: {percent(st['distinct_fingerprint_share'])} "
            f"({st['distinct_fingerprints']} fingerprints; largest holds {percent(st['largest_fingerprint_share'])})",
            f"  rows with a near-duplicate (Jaccard ≥ {d['threshold']}): {percent(d['near_duplicate_share'])} "
            f"({d['near_duplicate_rows']} rows; {d['test_rows_with_near_duplicate_in_train']} test rows near a train row)",
            f"  kernel-callable builtins used:            {percent(b['coverage'])} ({b['distinct_used']} of {b['kernel_callable']})",
            f"  fingerprints shared between train and test: {st['fingerprints_shared_train_test']}",
            "  validation: " + (", ".join(f"{k} {v}" for k, v in t["validation"].items()) or "-")
            + f"; rejected by the toolchain: {s['rejects']['rows']}"
            + "".join(f", {k} {v}" for k, v in s["rejects"]["by_reason"].items()),
            "  lines p50/p90/max: " + ", ".join(
                f"{c} {L['lines']['p50']}/{L['lines']['p90']}/{L['lines']['max']}"
                for c, L in t["lengths"].items() if L["present"]
            ),
            "  families: " + ", ".join(f"{k} {v}" for k, v in t["rows_per_family"].items()),
        ]
        meta = s["metadata"]
        lines += [f"  built with: {cmd}" for cmd in meta["build_command"]]
        lines.append(
            f"  warp {'/'.join(meta['warp_version'])}, generator {'/'.join(meta['generator_version'])}, schema {'/'.join(meta['schema_version'])}"
        )
    for config, s in stats["configs"].items():
        for split, e in s.get("extracted_splits", {}).items():
            x = e["extraction"] or {}
            lines.append(
                f"{config} {split} (extracted from published code): {e['rows']} rows, {e['distinct_fingerprints']} structures, "
                f"{e['fingerprints_also_in_synthetic_splits']} also in train/test; "
                f"{x.get('reached', '?')} kernels reached of {x.get('decorated', '?')} @wp.kernel decorations"
            )
    for config, s in stats["configs"].items():
        r = s.get("realism")
        if not r:
            continue
        syn = r["synthetic"]
        for key, real in r["real"].items():
            c = real["comparison"]
            L = lambda d: f"{d.get('p50', '-')}/{d.get('p90', '-')}/{d.get('max', '-')}"  # noqa: E731
            lines.append(
                f"{config} realism against {key}: kernel lines p50/p90/max synthetic {L(syn['kernel_lines'])} vs {L(real['kernel_lines'])}; "
                f"calling a user func {percent(syn['kernels_calling_a_user_func'])} vs {percent(real['kernels_calling_a_user_func'])}; "
                f"features {c['common_features_in_synthetic']}/{c['common_features']} ({percent(c['feature_coverage'])}); "
                f"builtins {c['real_builtins_in_synthetic']}/{c['real_builtins']} ({percent(c['builtin_coverage'])}, by calls {percent(c['builtin_coverage_by_calls'])})"
            )
    lines.append(f"fingerprints shared between train and test (all configs): {stats['fingerprints_shared_train_test_across_configs']}")
    return lines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--config", "config", type=click.Choice(CONFIGS), default=None, help="Only this config [default: every config present].")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes for fingerprints and MinHash on large datasets [default: cores, at most 8].")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def main(folder: Path, config: str | None, as_json: bool, workers: int | None, quiet: bool) -> None:
    """Statistics of a built dataset: sizes, lengths, families, diversity, duplicates, builtins."""
    stats = compute_stats(folder, [config] if config else None, workers, show_progress=not quiet)
    sys.stdout.write(dumps(stats) if as_json else "\n".join(summary_lines(stats)) + "\n")


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "stats")
