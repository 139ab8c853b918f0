"""One shard, end to end: kernels (from its source) → Warp code → (validated) rows → Parquet bytes.

A shard is the unit of work. ``ShardTask`` fully determines its rows, so shards can be built in
any order, in any process or machine, and rebuilt after a crash with the same result. The task's
source (a :class:`~warp_ir_dataset.sources.KernelSource`) says where kernels come from; one fill
loop serves both: a generated shard fills a fixed number of slots, trying the next seed of a
slot when a kernel fails; a shard of modules offers each kernel they register once, and a
kernel that fails is a reject.
"""
from __future__ import annotations

import resource
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from . import _warp
from .codegen import kernel_row, kernel_rows
from .fingerprint import fingerprint, split_of
from .execute import Failure, Request, behaviour_columns, run_kernels
from .generate import KernelSpec, derive_seed, source_id
from .schema import SCHEMA_VERSION, rows_to_table
from .sources import KernelSource, ShardKernels
from .validate import BATCH, ValidationPlan, check
from .write import encode_shard

CODE_COLUMNS = ("forward_code", "backward_code", "helper_code")  # what a size cap (--max-code-chars) bounds
GOAL_COLUMNS = ("python_source", *CODE_COLUMNS)  # what a text goal counts: known once a slot is filled (PTX comes later)
MAX_PER_STRUCTURE = 2  # rows of one structural fingerprint in a shard: bounds any structure's share
# A shard's progress: rows built so far, and rows through the compiler (and launched) so far.
OnProgress = Callable[[int, int], None]


# What makes a shard on disk one of a given build or extraction: its source and every setting
# that changes its rows (not its index, its cut, or the command's spelling).
IDENTITY_KEYS = ("config", "source", "seed", "rows_per_shard", "generator_version", "source_digest", "warp_version", "validate", "arch", "ptx", "execute", "max_code_chars")


@dataclass(frozen=True)
class ShardTask:
    config: str  # the device: "cpu" or "cuda"
    source: KernelSource
    shard_index: int
    rows_per_shard: int  # slots of a generated shard; modules of a shard of modules
    build_command: str
    validation: ValidationPlan = ValidationPlan()
    # Build only the first slots (the last shard of a build, whose cut is near): the rows are
    # those slots' rows of the full shard. Not part of the shard's identity or metadata.
    slot_limit: int | None = None
    # Also stop once the rows' text (see ``text_chars``) reaches this many characters: the
    # last shard's cut is known in encoded bytes, which follow the text far more closely than
    # they follow a count of rows. Like ``slot_limit``, it only shortens the prefix built.
    text_goal: int | None = None
    # Also stop once the rows kept so far (verified where verification picks them) encode to
    # this many bytes: the last shard then compiles and launches only the rows its cut keeps.
    byte_goal: int | None = None
    split: str | None = None  # every row goes to this split; None: train or test by structure
    identity: str = ""  # the build's or extraction's settings as JSON (see identity.py): what the card reads
    max_code_chars: int | None = None  # a row's generated code (CODE_COLUMNS) at most; None: the source's default

    @property
    def code_cap(self) -> int:
        return self.max_code_chars if self.max_code_chars is not None else self.source.max_code_chars

    def mismatch(self, meta: dict[str, str]) -> tuple[str, str, str] | None:
        """``(key, on disk, this task's)`` for the first setting of a shard's identity that a
        shard on disk was made with otherwise (what a resume refuses); None when it is this one."""
        want = self.metadata(meta.get("split", ""), 0, 0, None)
        for key in IDENTITY_KEYS:
            if meta[key] != want[key]:
                return key, meta[key], want[key]
        return None

    def metadata(self, split: str, rows: int, slots: int, final_for_target: int | None) -> dict[str, str]:
        return {
            **self.source.metadata(),
            "split": split,
            "slots": str(slots),
            # Set on the last shard only: the size target it was cut for. Full shards do not
            # depend on the target, which is what lets a larger target resume a build.
            "final_for_target": "" if final_for_target is None else str(final_for_target),
            "schema_version": SCHEMA_VERSION,
            "warp_version": _warp.WARP_VERSION,
            "config": self.config,
            "shard_index": str(self.shard_index),
            "rows_per_shard": str(self.rows_per_shard),
            "rows": str(rows),
            "build_command": self.build_command,
            "identity": self.identity,
            "validate": self.validation.mode,
            "arch": f"sm_{self.validation.arch}",
            "ptx": str(self.validation.ptx).lower(),
            "execute": str(self.validation.execute and self.source.executes).lower(),
            "max_code_chars": str(self.code_cap),
        }


class Lanes:
    """How many compiles (and launches) may run at once in a build: one permit per worker,
    shared by all of them, so a worker whose shards are done lends its core to those still
    compiling (the last shard, a one-shard build). A shard hands its verification batches to
    threads and goes on filling slots; each compile or launch takes a permit while it runs.
    The rows do not depend on how many permits there are."""

    def __init__(self, permits=None):
        self.permits = permits if permits is not None else threading.BoundedSemaphore(1)
        self.threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wirds-verify")
        self.in_process = threading.Lock()  # compiles in this process capture its stderr (fd 2): one at a time

    def submit(self, fn, *args) -> Future:
        return self.threads.submit(fn, *args)


_lanes = Lanes()


def share_lanes(permits) -> None:
    """Use ``permits`` (a semaphore shared by a build's worker processes) for this process's compiles."""
    global _lanes
    _lanes = Lanes(permits)


# Verification batches a shard may have in flight before it settles the oldest (replacing the
# rows it rejected): a fixed count, so a replacement sees the same filled slots however fast
# the compiles ran, and the rows stay those of the shard's task.
VERIFY_AHEAD = 2


@dataclass
class ShardCounts:
    """What happened while building shards; summed over shards (peak memory: the max)."""

    rows: int = 0
    codegen_failures: int = 0  # kernels Warp could not build (replaced by the slot's next seed)
    duplicates: int = 0  # sources already in the shard
    structural_duplicates: int = 0  # structures already MAX_PER_STRUCTURE times in the shard
    oversized: int = 0  # generated code over the task's cap (--max-code-chars)
    generator_errors: dict[str, int] = field(default_factory=dict)  # by family: a family raised, a bug counted so a long build survives it
    validated: int = 0
    executed: int = 0  # rows launched on recorded inputs (stage 4)
    rejected: int = 0
    validation_seconds: float = 0.0
    execution_seconds: float = 0.0
    execution_stage_seconds: dict[str, float] = field(default_factory=dict)  # compile, launch, adjoint (executing process), encode
    peak_rss_mb: float = 0.0  # per worker process
    failures_by_family: dict[str, int] = field(default_factory=dict)

    def add(self, other: "ShardCounts") -> None:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "peak_rss_mb":
                setattr(self, f.name, max(mine, theirs))
            elif isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            else:
                setattr(self, f.name, mine + theirs)


@dataclass(frozen=True)
class EncodedShard:
    """A shard's files: its ``train`` rows and, when it has any, its ``test`` rows."""

    slots: int  # how many of the task's slots the files cover (rows_per_shard when full)
    files: dict[str, bytes]

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.files.values())

    def rows(self) -> int:
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(pa.BufferReader(b)).metadata.num_rows for b in self.files.values())


@dataclass
class ShardResult:
    task: ShardTask
    table: pa.Table  # every slot's row, in slot order
    splits: list[str]  # each row's split, from its structural fingerprint
    full: EncodedShard
    counts: ShardCounts
    rejects: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether ``full`` holds all of the shard's slots (a limited task holds fewer)."""
        return self.table.num_rows == self.task.rows_per_shard

    @property
    def exact_prefix(self) -> bool:
        """Whether the rows equal the full shard's first rows. A row replaced after validation
        draws seeds that avoid the sources of every slot already filled, which in a full
        shard includes later slots; so with a replacement only the full build is exact."""
        return self.complete or not self.rejects


@dataclass
class _Slot:
    row: dict
    code: _warp.KernelCode
    split: str
    spec: KernelSpec


@dataclass(frozen=True)
class _Verdict:
    """What verifying a row found: compiled (and launched) or why not."""

    ok: bool
    reason: str = ""
    message: str = ""
    ptx: str | None = None
    behaviour: dict | None = None  # the executed row's columns


class _SharedBuilds:
    """Warp's build of a kernel (exec, parse, types, adjoint), shared by the devices filling one
    slot of the same shard: the first device to try a candidate builds it once and generates the
    code of every device still to fill the slot; the others take theirs from here. A device
    whose candidates differ from the first's (it rejected one the first kept) builds its own.
    Outside a slot (a replacement after validation) a device builds alone, as in a one-config
    build. So each device's rows are exactly those of its own build, whatever shares the work."""

    def __init__(self):
        self.waiting: dict[str, bool] = {}  # devices still to fill this slot: whether they compile it
        self.candidates: dict[tuple[int, int], KernelSpec | Exception | None] = {}  # by (stream, attempt)
        self.built: dict[str, dict[str, tuple | Exception]] = {}  # source id -> device -> result
        self.behaviours: dict[str, Future] = {}  # source id -> what executing it gave (every device's rows share it)
        self.checked = 0  # rows through the compiler (and the launch), all devices together: progress only
        self.claiming = threading.Lock()  # devices' verifying threads claim the kernels they launch

    def begin_slot(self, with_module: dict[str, bool]) -> None:
        self.waiting, self.candidates, self.built = dict(with_module), {}, {}

    def slot_filled(self, device: str) -> None:
        self.waiting.pop(device, None)
        if not self.waiting:
            self.candidates, self.built = {}, {}

    def candidate(self, device: str, kernels: ShardKernels, stream: int, attempt: int) -> KernelSpec | None:
        if device not in self.waiting:
            return kernels.candidate(stream, attempt)
        key = (stream, attempt)
        if key not in self.candidates:
            try:
                self.candidates[key] = kernels.candidate(stream, attempt)
            except Exception as e:  # noqa: BLE001 - raised to each device that draws this seed
                self.candidates[key] = e
        spec = self.candidates[key]
        if isinstance(spec, Exception):
            raise spec
        return spec

    def kernel_row(self, spec: KernelSpec, device: str, with_module: bool) -> tuple[dict, _warp.KernelCode]:
        if device not in self.waiting:
            return kernel_row(spec, device, with_module=with_module)
        results = self.built.setdefault(source_id(spec.python_source), {})
        if device not in results:
            results.update(self._build_for(spec, {**self.waiting, device: with_module}))
        result = results.pop(device)
        if isinstance(result, Exception):
            raise result
        return result

    @staticmethod
    def _build_for(spec: KernelSpec, with_module: dict[str, bool]) -> dict[str, tuple | Exception]:
        try:
            return kernel_rows(spec, with_module)
        except Exception:  # noqa: BLE001 - retried device by device: whatever fails, fails as in a one-device build
            pass
        results: dict[str, tuple | Exception] = {}
        for device, module in with_module.items():
            try:
                results[device] = kernel_row(spec, device, with_module=module)
            except Exception as e:  # noqa: BLE001 - the device's own build error, raised when it asks
                results[device] = e
        return results


def _chars(row: dict, columns: tuple[str, ...]) -> int:
    return sum(len(row[c] or "") for c in columns)


def text_chars(table: pa.Table) -> int:
    """Characters of a shard's rows in ``GOAL_COLUMNS``: what ``ShardTask.text_goal`` counts."""
    return sum(pc.sum(pc.utf8_length(table.column(c))).as_py() or 0 for c in GOAL_COLUMNS)


class _ShardBuilder:
    """Fills a shard's slots in order, each with the first candidate of its stream that makes a
    row; a row the toolchain rejects is replaced by the stream's next candidate (none left: the
    slot is dropped). So a shard's rows depend on its task only."""

    def __init__(self, task: ShardTask, kernels: ShardKernels, on_row: OnProgress | None, builds: _SharedBuilds | None = None):
        self.task = task
        self.source: KernelSource = task.source
        self.kernels = kernels
        self.on_row = on_row or (lambda rows, checked: None)
        self.builds = builds or _SharedBuilds()
        self.slots: list[_Slot | None] = []
        self.next_attempt: dict[int, int] = {}  # by stream
        self.spent = False  # a stream of a source without fixed slots ran out: the shard is full
        self.counts = ShardCounts()
        self.rejects: list[dict] = list(kernels.rejects)
        self.seen: set[str] = set()
        self.structures: dict[str, int] = {}
        self.done = 0
        self.text = 0  # text_chars of the filled slots
        self.unverified: list[int] = []  # filled slots awaiting the compiler (and the launch), in order
        self.in_flight: deque[tuple[list[int], Future]] = deque()  # batches being verified, oldest first
        self.counted = threading.Lock()  # counts are added to by verifying threads
        self.reached = False  # the kept rows reach the task's byte goal: no more slots

    def fill(self, slot: int) -> _Slot | None:
        """The slot's row from the next candidates of its stream; None when the stream is spent."""
        task, source = self.task, self.source
        compiled = self.compiles(slot)
        stream = source.stream(slot)
        while True:
            attempt = self.next_attempt.get(stream, 0)
            self.next_attempt[stream] = attempt + 1
            try:
                spec = self.builds.candidate(task.config, self.kernels, stream, attempt)
            except Exception as e:  # noqa: BLE001 - a family bug must not kill a long build; counted by family
                family = getattr(e, "family", "unknown")
                self.counts.generator_errors[family] = self.counts.generator_errors.get(family, 0) + 1
                continue
            if spec is None:
                if source.fixed_slots:
                    raise RuntimeError(f"shard {task.shard_index} slot {slot}: no buildable kernel in {attempt} seeds")
                return None
            kid = source_id(spec.python_source)
            if kid in self.seen:
                self.counts.duplicates += 1
                self._reject(slot, spec, None, "duplicate", "the same source as a kernel already in this shard")
                continue
            self.seen.add(kid)
            structure = fingerprint(spec.python_source) if source.caps_structures else None
            if structure is not None and self.structures.get(structure, 0) >= MAX_PER_STRUCTURE:
                self.counts.structural_duplicates += 1
                continue
            try:
                row, code = self.builds.kernel_row(spec, task.config, compiled)
            except Exception as e:  # noqa: BLE001 - any Warp build error rejects the kernel
                self.counts.codegen_failures += 1
                self.counts.failures_by_family[spec.family] = self.counts.failures_by_family.get(spec.family, 0) + 1
                self._reject(slot, spec, None, "codegen-error", _warp.portable_text(f"{type(e).__name__}: {e}")[:2000])
                continue
            size = _chars(row, CODE_COLUMNS)
            if size > task.code_cap:
                self.counts.oversized += 1
                self._reject(slot, spec, None, "oversized", f"generated code of {size} characters, over the cap of {task.code_cap} (--max-code-chars)")
                continue
            if structure is not None:
                self.structures[structure] = self.structures.get(structure, 0) + 1
            return _Slot(row, code, task.split or split_of(structure), spec)

    def progress(self, n: int = 1) -> None:
        self.done += n
        self.on_row(self.done, self.builds.checked)

    @property
    def slot_count(self) -> int | None:
        """Slots to fill (None: until the source's stream is spent)."""
        if not self.source.fixed_slots:
            return None
        return min(self.task.slot_limit or self.task.rows_per_shard, self.task.rows_per_shard)

    def wants(self, slot: int) -> bool:
        """Whether the shard still fills ``slot`` (slots come in order)."""
        goal, count = self.task.text_goal, self.slot_count
        return not self.spent and not self.reached and (count is None or slot < count) and (goal is None or self.text < goal)

    def compiles(self, slot: int) -> bool:
        return self.task.validation.selects(self.source.sample_seed, self.task.shard_index, slot)

    def build(self) -> list[dict]:
        slot = 0
        while self.wants(slot):
            self.add_slot(slot)
            self.after_slot(slot)
            slot += 1
        return self.checked_rows()

    def add_slot(self, slot: int) -> None:
        filled = self.fill(slot)
        if filled is None:
            self.spent = True
            return
        self.slots.append(filled)
        if self.verifies(slot, filled):
            self.unverified.append(slot)
        self.text += _chars(filled.row, GOAL_COLUMNS)
        self.progress()  # rows awaiting the compiler count too: being built

    def after_slot(self, slot: int) -> None:
        """Verify the slots awaiting it once they make a batch, and see whether the rows kept
        so far reach the byte goal (every batch of slots: encoding is not free)."""
        if len(self.unverified) >= BATCH:
            self._submit(self.unverified[:BATCH])
            self.unverified = self.unverified[BATCH:]
            while len(self.in_flight) > VERIFY_AHEAD:
                self._settle_oldest()
        goal = self.task.byte_goal
        if goal is None or (slot + 1) % BATCH or self.reached:
            return
        if self._kept_bytes() >= goal:
            self.verify_unverified()  # a replaced or dropped row may leave the goal unreached
            self.reached = self._kept_bytes() >= goal

    def _kept_bytes(self) -> int:
        kept = [s for s in self.slots if s is not None]
        return encode(self.task, rows_to_table([s.row for s in kept]), [s.split for s in kept], len(kept), None).size

    def verifies(self, slot: int, filled: _Slot) -> bool:
        """Whether a filled slot is compiled (and, where its source executes rows, launched):
        the slots validation selects, and every ``test`` row of an executing source."""
        return self.compiles(slot) or (self.executes and filled.split == "test")

    @property
    def executes(self) -> bool:
        return self.source.executes and self.task.validation.execute

    def verify_unverified(self) -> None:
        """Verify every slot awaiting it, in batches: a batch amortizes the compiler's headers
        and keeps the progress line moving. Batches are cut at the same slots however far the
        shard is filled, so a shard that stops early verifies its prefix as a whole shard does."""
        picked, self.unverified = self.unverified, []
        for start in range(0, len(picked), BATCH):
            self._submit(picked[start : start + BATCH])
        while self.in_flight:
            self._settle_oldest()

    def _submit(self, batch: list[int]) -> None:
        slots = [self._ready(self.slots[s]) for s in batch]
        self.in_flight.append((batch, _lanes.submit(self._verify, slots)))

    def _ready(self, filled: _Slot) -> _Slot:
        """The slot as its verification needs it: a cuda row that is launched is compiled from its
        whole module, generated here (Warp's codegen stays in the shard's thread)."""
        return self._with_module(filled) if self.executes and self.task.config != "cpu" else filled

    def _settle_oldest(self) -> None:
        """Keep the oldest batch's verified rows; a rejected row is replaced by its stream's next
        candidate (verified alone), or dropped when there is none."""
        batch, verdicts = self.in_flight.popleft()
        slots = self.slots
        for slot, verdict in zip(batch, verdicts.result()):
            while not verdict.ok:
                self.counts.rejected += 1
                self._reject(slot, None, slots[slot].row, verdict.reason, verdict.message)
                slots[slot] = self.fill(slot)
                if slots[slot] is None or not self.verifies(slot, slots[slot]):
                    break  # dropped, or replaced by a row that needs no verifying
                verdict = self._verify([self._ready(slots[slot])])[0]  # its compile takes a permit as any does
            else:
                self._keep(slots[slot], verdict)
        self.builds.checked += len(batch)
        self.on_row(self.done, self.builds.checked)  # no new rows, but the compiler's progress

    def checked_rows(self) -> list[dict]:
        """The filled slots' rows after verification."""
        self.verify_unverified()
        kept = [s for s in self.slots if s is not None]
        self.counts.rows = len(kept)
        self.splits = [s.split for s in kept]
        return [s.row for s in kept]

    def _keep(self, filled: _Slot, verdict: _Verdict) -> None:
        filled.row["validation"] = "executed" if verdict.behaviour is not None else "compiled"
        filled.row["ptx"] = verdict.ptx
        if verdict.behaviour is not None:
            filled.row.update(verdict.behaviour)

    def _verify(self, slots: list[_Slot]) -> list[_Verdict]:
        """Compile the rows with the config's toolchain, then launch those of an executing
        source on the cpu. A cpu row is compiled by its launch (Warp's own build, with clang,
        in debug mode): compiling it apart first would pay clang twice."""
        if not self.executes:
            return [_Verdict(o.ok, o.reason, o.message, o.ptx) for o in self._check(slots)]
        if self.task.config == "cpu":
            compiled = [_Verdict(True)] * len(slots)
            with self.counted:
                self.counts.validated += len(slots)
        else:
            compiled = [_Verdict(o.ok, o.reason, o.message, o.ptx) for o in self._check(slots)]
        launched = self._execute([s for s, v in zip(slots, compiled) if v.ok])
        verdicts = []
        for v in compiled:
            if not v.ok:
                verdicts.append(v)
                continue
            result = launched.pop(0)
            if isinstance(result, Failure):
                verdicts.append(_Verdict(False, result.reason, result.message))
            else:
                verdicts.append(_Verdict(True, ptx=v.ptx, behaviour=result))
        return verdicts

    def _with_module(self, filled: _Slot) -> _Slot:
        """The slot with its whole generated module, which compiling needs (a test row that
        validation did not select was generated without it)."""
        if filled.code.module_source is not None:
            return filled
        _, code = kernel_row(filled.spec, self.task.config, with_module=True)
        filled.code = code
        return filled

    def _execute(self, slots: list[_Slot]) -> list:
        """Each slot's behaviour as row columns (or its failure), launched and encoded once per
        kernel for every device: a kernel another device's batch is launching is waited for."""
        shared = self.builds.behaviours
        with self.builds.claiming:  # the check and the claim together: two devices' threads may ask at once
            todo = [s for s in slots if s.row["id"] not in shared]
            for s in todo:
                shared[s.row["id"]] = Future()
        if todo:
            try:
                self._launch(todo)
            except BaseException as e:
                for s in todo:
                    if not shared[s.row["id"]].done():
                        shared[s.row["id"]].set_exception(e)
                raise
        results = [shared[s.row["id"]].result() for s in slots]
        with self.counted:
            self.counts.executed += sum(1 for r in results if not isinstance(r, Failure))
        return results

    def _launch(self, todo: list[_Slot]) -> None:
        requests = [Request(s.spec.python_source, s.spec.kernel_name, derive_seed("inputs", s.row["id"]), f"wirds_{s.row['id']}", family_contract=s.spec.contract) for s in todo]
        with _lanes.permits:  # timed from here: waiting for a permit is no work
            started = time.perf_counter()
            results = run_kernels(requests)
        stages: dict[str, float] = {}
        for s, result in zip(todo, results):
            if isinstance(result, Failure):
                self.builds.behaviours[s.row["id"]].set_result(result)
                continue
            for stage, seconds in result.seconds.items():
                stages[stage] = stages.get(stage, 0.0) + seconds
            encoding = time.perf_counter()
            self.builds.behaviours[s.row["id"]].set_result(behaviour_columns(result))
            stages["encode"] = stages.get("encode", 0.0) + time.perf_counter() - encoding
        with self.counted:
            for stage, seconds in stages.items():
                self.counts.execution_stage_seconds[stage] = self.counts.execution_stage_seconds.get(stage, 0.0) + seconds
            self.counts.execution_seconds += time.perf_counter() - started

    def _check(self, slots: list[_Slot]):
        with _lanes.permits, _lanes.in_process:
            started = time.perf_counter()
            outcomes = check([s.code for s in slots], self.task.config, self.task.validation)
            seconds = time.perf_counter() - started
        with self.counted:
            self.counts.validated += len(slots)
            self.counts.validation_seconds += seconds
        return outcomes

    def _reject(self, slot: int, spec: KernelSpec | None, row: dict | None, reason: str, message: str) -> None:
        """Record a kernel that made no row, as its source words it (a source that replaces
        failed kernels by fresh ones records only the toolchain's verdicts)."""
        if row is None and self.source.fixed_slots:
            return
        name, origin = (spec.kernel_name, spec.origin) if row is None else (row["kernel_name"], row["origin"])
        self.rejects.append(self.source.reject_record(self.task.shard_index, slot, name, origin, row, reason, message))


def build_shard(task: ShardTask, on_row: OnProgress | None = None) -> ShardResult:
    builder = _ShardBuilder(task, task.source.kernels(task.shard_index), on_row)
    return _result(builder, builder.build())


def build_shards(tasks: tuple[ShardTask, ...], on_row: OnProgress | None = None) -> tuple[ShardResult, ...]:
    """One shard index for several configs (one task each, same source), each kernel found
    (generated, or imported from its module) and built by Warp once for all of them: every
    result equals its own :func:`build_shard`.

    Slots are filled in turn, every config's slot ``s`` before any config's slot ``s + 1``,
    then each config validates its own rows with its own toolchain."""
    if len(tasks) == 1:
        return (build_shard(tasks[0], on_row),)
    first = tasks[0]
    if len({t.config for t in tasks}) != len(tasks) or any(t.shard_index != first.shard_index or t.source != first.source for t in tasks):
        raise ValueError("build_shards: one shard index of one source, one task per config")
    builds = _SharedBuilds()
    kernels = first.source.kernels(first.shard_index)
    builders = [_ShardBuilder(t, kernels, on_row, builds) for t in tasks]
    slot = 0
    while filling := [b for b in builders if b.wants(slot)]:
        builds.begin_slot({b.task.config: b.compiles(slot) for b in filling})
        for b in filling:
            b.add_slot(slot)
            builds.slot_filled(b.task.config)
        for b in filling:  # after the slot: a replacement is built by its own device alone
            b.after_slot(slot)
        slot += 1
    return tuple(_result(b, b.checked_rows()) for b in builders)


def _result(builder: _ShardBuilder, rows: list[dict]) -> ShardResult:
    task = builder.task
    table = rows_to_table(rows)
    builder.counts.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    full = encode(task, table, builder.splits, len(table), None)
    return ShardResult(task, table, builder.splits, full, builder.counts, builder.rejects)


def encode(task: ShardTask, table: pa.Table, splits: list[str], slots: int, final_for_target: int | None) -> EncodedShard:
    """The shard files for the first ``slots`` rows, split by structural fingerprint."""
    if task.split is not None:  # one file, always written: it marks the shard done
        return EncodedShard(slots, {task.split: encode_shard(table, task.metadata(task.split, len(table), slots, None))})
    splits = splits[:slots]
    prefix = table.slice(0, slots)
    is_test = pa.array([s == "test" for s in splits], type=pa.bool_())
    parts = {"train": prefix.filter(pc.invert(is_test)), "test": prefix.filter(is_test)}
    return EncodedShard(
        slots,
        {
            split: encode_shard(part, task.metadata(split, len(part), slots, final_for_target))
            for split, part in parts.items()
            if split == "train" or len(part)  # a shard always has a train file; it marks completion
        },
    )


def smallest_prefix_reaching(result: ShardResult, needed_bytes: int, target: int) -> EncodedShard:
    """The shard cut to the fewest slots whose files reach ``needed_bytes`` (all slots if none do)."""
    task, table, splits = result.task, result.table, result.splits
    lo, lo_size = 0, 0  # lo slots are known to fall short, hi slots to reach
    hi = len(table)
    best = encode(task, table, splits, hi, target)
    if best.size < needed_bytes:
        return best
    hi_size = best.size
    while hi - lo > 1:
        # Sizes grow almost linearly with slots: interpolate, then keep the bracket honest.
        guess = lo + round((needed_bytes - lo_size) / max(hi_size - lo_size, 1) * (hi - lo))
        mid = min(max(guess, lo + 1), hi - 1)
        candidate = encode(task, table, splits, mid, target)
        if candidate.size >= needed_bytes:
            hi, hi_size, best = mid, candidate.size, candidate
        else:
            lo, lo_size = mid, candidate.size
    return best
