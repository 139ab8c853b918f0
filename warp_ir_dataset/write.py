"""Stage 5: Arrow tables → Parquet shards on disk, written atomically.

A shard is encoded in memory first (so its exact size on disk is known before it is written),
then written to a file without a name, fsync'd, named as a dot-named temp file beside its final
name and renamed into place. A writer killed while writing leaves nothing; one killed between the
two renames leaves a dot file, which the ``datasets`` file matcher ignores and the next run
removes: a crash never leaves a half shard that a loader would pick up.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .schema import META_KEYS, ROW_SCHEMA, SCHEMA_VERSION

ZSTD_LEVEL = 3
MAX_ROW_GROUP_BYTES = 100_000_000  # uncompressed; keeps row groups friendly to readers
MB = 1_000_000  # sizes are Parquet bytes on disk, in MB of 10^6 bytes


# The names of everything a build or an extraction writes beside its shards, in one place.
def shard_name(index: int, split: str = "train") -> str:
    return f"{split}-{index:05d}.parquet"


def shard_files(folder: Path, config: str) -> dict[str, list[Path]]:
    """Visible ``SPLIT-NNNNN.parquet`` files of a config, by split (dot files are partial work)."""
    splits: dict[str, list[Path]] = {}
    for path in sorted((folder / config).glob("*.parquet")):
        if not path.name.startswith("."):
            splits.setdefault(path.name.split("-")[0], []).append(path)
    return dict(sorted(splits.items()))


def split_shards(config_folder: Path, split: str) -> list[Path]:
    """One split's shards in a config's folder, in order (as :func:`shard_files` finds them)."""
    return shard_files(config_folder.parent, config_folder.name).get(split, [])


def rejects_files(config_folder: Path, split: str | None = None) -> list[Path]:
    """The rejects files in a config's folder: a build's (``split`` None, one per shard index) or
    an extracted split's (see :func:`rejects_name`)."""
    return sorted(config_folder.glob("rejects-[0-9]*.jsonl" if split is None else f"rejects-{split}-*.jsonl"))


def empty_markers(config_folder: Path, split: str) -> list[Path]:
    """The markers of an extracted split's shards that kept no row (see :func:`empty_marker_name`)."""
    return sorted(config_folder.glob(f".{split}-*.empty.json"))


def rejects_name(index: int, split: str | None = None) -> str:
    """Rows the toolchain (or an extraction) rejected while building a shard, as JSON lines beside
    it: a generated shard index's (its train and test rows come from one run of slots) or an
    extracted split's."""
    return f"rejects-{index:05d}.jsonl" if split is None else f"rejects-{split}-{index:05d}.jsonl"


def report_name(split: str) -> str:
    """Per-package figures of an extracted split, beside its shards (not a data file)."""
    return f"extraction-{split}.json"


def empty_marker_name(split: str, index: int) -> str:
    """Marks a finished shard whose modules gave no row: a Parquet file with no rows would
    break ``datasets``' reader, and a dot file is ignored by it."""
    return f".{split}-{index:05d}.empty.json"


def write_shard(folder: Path, index: int, files: dict[str, bytes], rejects: list[dict], split: str | None = None, empty_metadata: dict | None = None) -> None:
    """A shard's files and its rejects, the mark of a finished shard written last, so that a
    crash leaves either a finished shard or one that is built again.

    A generated shard (``split`` None) has a ``train`` file, its mark, and a ``test`` file when
    it has test rows (written before it; a stale one from a longer cut is removed). An extracted
    shard has its split's file, or, when its modules gave no row, an empty marker holding
    ``empty_metadata`` (the shard's metadata, which a resume checks)."""
    import json

    rejects_path = folder / rejects_name(index, split)
    if rejects:
        atomic_write(rejects_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rejects).encode())
    else:
        rejects_path.unlink(missing_ok=True)
    if split is None:
        for name in sorted(files, key=lambda s: s == "train"):
            atomic_write(folder / shard_name(index, name), files[name])
        if "train" in files and "test" not in files:
            (folder / shard_name(index, "test")).unlink(missing_ok=True)
    elif split in files:
        (folder / empty_marker_name(split, index)).unlink(missing_ok=True)
        atomic_write(folder / shard_name(index, split), files[split])
    else:
        (folder / shard_name(index, split)).unlink(missing_ok=True)
        atomic_write(folder / empty_marker_name(split, index), (json.dumps(empty_metadata, sort_keys=True) + "\n").encode())


class ShardError(Exception):
    """A file in the output folder is not a shard this tool wrote, or is damaged."""


class WriteError(Exception):
    """The system refused a write (disk full, read-only folder ...): one line naming the file."""


def encode_shard(table: pa.Table, metadata: dict[str, str]) -> bytes:
    """The exact bytes of the Parquet file for ``table`` with ``metadata`` attached."""
    missing = set(META_KEYS) - set(metadata)
    if missing:
        raise ValueError(f"shard metadata lacks {sorted(missing)}")
    table = table.cast(ROW_SCHEMA).replace_schema_metadata({k: str(v) for k, v in sorted(metadata.items())})
    rows_per_group = max(1, int(len(table) * MAX_ROW_GROUP_BYTES / max(table.nbytes, 1)))
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(
        sink,
        table.schema,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_content_defined_chunking=True,
        write_page_index=True,
        write_page_checksum=True,  # a page damaged inside the file is found when a resume trusts it
        write_statistics=["id", "kernel_name", "family", "seed", "device", "validation"],
    ) as writer:
        writer.write_table(table, row_group_size=rows_per_group)
    return sink.getvalue().to_pybytes()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a nameless file, fsync'd, named beside ``path`` and renamed
    into place. An OS error leaves no partial file (the temp file is removed) and raises :class:`WriteError`."""
    _write_then_rename(path, data)


def _write_then_rename(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        try:
            _write_nameless_then_link(path.parent, tmp, data) or _write_named(tmp, data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None


def _write_nameless_then_link(folder: Path, tmp: Path, data: bytes) -> bool:
    """Write ``data`` to a file without a name (Linux's ``O_TMPFILE``) and give it the name ``tmp``
    only once it is whole on disk: a writer killed by SIGKILL (nothing to catch) while writing
    leaves nothing behind, instead of a temp file that only the next run removes. False where
    the system or the file system has no nameless files."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o666)  # the umask applies, as to any new file
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return False
        raise
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(fd)
        # A folder descriptor makes Python call linkat(AT_SYMLINK_FOLLOW): plain link() would
        # link the /proc entry itself, across file systems.
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=dir_fd, follow_symlinks=True)
        finally:
            os.close(dir_fd)
    finally:
        os.close(fd)
    return True


def _write_named(tmp: Path, data: bytes) -> None:
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_shard_metadata(path: Path) -> dict[str, str]:
    """The key-value metadata of a shard; :class:`ShardError` if it is not one of ours."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as e:
        raise ShardError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]}); if it is a damaged shard, delete it and run the same command: that shard is built again") from None
    meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items() if k != b"ARROW:schema"}
    if "schema_version" not in meta:
        raise ShardError(f"{path}: a Parquet file this tool did not write (no warp-ir-dataset metadata)")
    if meta["schema_version"] != SCHEMA_VERSION:
        raise ShardError(
            f"{path}: schema version {meta['schema_version']}, this tool writes {SCHEMA_VERSION}; "
            "rebuild the folder with this version (or read it with the release that wrote it)"
        )
    if not set(META_KEYS) <= set(meta):
        raise ShardError(f"{path}: a Parquet file this tool did not write (no warp-ir-dataset metadata)")
    if schema.remove_metadata() != ROW_SCHEMA.remove_metadata():
        raise ShardError(f"{path}: columns differ from schema version {SCHEMA_VERSION}")
    return meta


def verify_shard(path: Path) -> None:
    """Read every page of a shard and check its checksum; :class:`ShardError` with the remedy
    when a page is damaged (the footer alone, read by :func:`read_shard_metadata`, can be intact)."""
    try:
        pq.ParquetFile(path, page_checksum_verification=True).read()
    except (OSError, pa.ArrowException) as e:
        raise ShardError(f"{path}: damaged inside ({str(e).splitlines()[0]}); delete it and run the same command: that shard is built again") from None
