"""Stage 1: where a shard's kernels come from: the seeded generator, or modules found on disk.

A source travels in each ``ShardTask`` and is the only thing the shard pipeline asks for
kernels. ``GeneratedSource`` never runs out: slot ``s`` of shard ``i`` tries the kernels of
seeds ``derive_seed(seed, i, s, attempt)`` until one builds. ``ModuleSource`` holds a fixed,
sorted list of modules, ``modules_per_shard`` to a shard; each module is imported in a process
of its own (:mod:`~warp_ir_dataset.probe`) and each kernel it registers is offered once.
Both say who they are in the shard metadata, which is what a resumed build checks.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import os
import re
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Protocol
from functools import cached_property, lru_cache
from pathlib import Path

from .generate import GENERATOR_VERSION, KernelSpec, derive_seed, generate_kernel
from .probe import ImportServer, ModuleTarget, ProbeResult

REAL_FAMILY = "real"
DEFAULT_MODULES_PER_SHARD = 8
DEFAULT_MODULE_TIMEOUT = 120.0  # seconds: a module that takes longer to import is taken to hang


def real_sources() -> tuple[str, ...]:
    """Published, permissively licensed Warp code the `real` split is extracted from: the
    pinned warp-lang's own (Apache-2.0) and mujoco-warp's (Apache-2.0, the [real] extra)."""
    from ._warp import WARP_PUBLISHED_CODE

    return WARP_PUBLISHED_CODE + ("mujoco_warp",)


REAL_SPLIT = "real"


class SourceError(Exception):
    """A SOURCE argument names nothing that can be read: one line for the user."""


MAX_ATTEMPTS = 64  # seeds per generated slot; a family that fails this often is a bug, not bad luck


@dataclass(frozen=True)
class ShardKernels:
    """What a source offers one shard: candidate kernels in numbered *streams* (a slot is filled
    by the first candidate of its stream that makes a row; a row rejected later is replaced by
    the next one), and the rejects of the source itself (a module that did not import)."""

    candidate: Callable[[int, int], KernelSpec | None]  # (stream, attempt) → kernel; None: the stream is spent
    rejects: tuple[dict, ...] = ()


class KernelSource(Protocol):
    """The head of the shard pipeline: where a shard's kernels come from.

    ``GeneratedSource`` gives every slot a stream of its own (the slot's seeds, so a shard has
    a fixed number of rows); ``ModuleSource`` gives all slots of a shard one stream (its modules'
    kernels in order, so a kernel that fails leaves no gap and the shard ends when they do)."""

    kind: ClassVar[str]
    fixed_slots: ClassVar[bool]  # True: every slot is filled (a spent stream is a bug)
    caps_structures: ClassVar[bool]  # True: at most MAX_PER_STRUCTURE rows of one structure a shard
    executes: ClassVar[bool]  # True: verified rows, and every test row, are launched (stage 4)
    max_code_chars: ClassVar[int]  # the default cap on a row's generated code (--max-code-chars)
    sample_seed: int  # picks the rows that `--validate sample` compiles

    def kernels(self, shard_index: int) -> ShardKernels: ...

    def stream(self, slot: int) -> int: ...

    def metadata(self) -> dict[str, str]:
        """Who the source is, in the shard metadata (what a resume checks)."""
        ...

    def reject_record(self, shard_index: int, slot: int, kernel_name: str, origin: str, row: dict | None, reason: str, message: str) -> dict:
        """A line of the shard's rejects file for a kernel that made no row."""
        ...


@dataclass(frozen=True)
class GeneratedSource:
    seed: int = 0
    kind: ClassVar[str] = "generator"
    fixed_slots: ClassVar[bool] = True
    caps_structures: ClassVar[bool] = True
    executes: ClassVar[bool] = True
    # The families budget their kernels' size (families/_budget.py): a cap this high drops almost
    # none, and stops a long kernel from taking a shard's bytes.
    max_code_chars: ClassVar[int] = 120_000

    @property
    def sample_seed(self) -> int:
        return self.seed

    def candidate(self, shard_index: int, slot: int, attempt: int) -> KernelSpec:
        return generate_kernel(derive_seed(self.seed, shard_index, slot, attempt))

    def kernels(self, shard_index: int) -> ShardKernels:
        def candidate(slot: int, attempt: int) -> KernelSpec | None:
            return self.candidate(shard_index, slot, attempt) if attempt < MAX_ATTEMPTS else None

        return ShardKernels(candidate)

    def stream(self, slot: int) -> int:
        return slot

    def metadata(self) -> dict[str, str]:
        return {"source": self.kind, "seed": str(self.seed), "generator_version": GENERATOR_VERSION, "source_digest": ""}

    def reject_record(self, shard_index, slot, kernel_name, origin, row, reason, message) -> dict:
        # Only the toolchain's verdicts are written: a kernel Warp cannot build is counted and
        # replaced by the next seed, which is the generator's business, not the data's.
        return {
            "shard_index": shard_index,
            "slot": slot,
            "id": row["id"],
            "seed": row["seed"],
            "family": row["family"],
            "kernel_name": row["kernel_name"],
            "device": row["device"],
            "reason": reason,
            "message": message,
        }


@dataclass(frozen=True)
class ModuleSource:
    targets: tuple[ModuleTarget, ...]
    modules_per_shard: int = DEFAULT_MODULES_PER_SHARD
    timeout: float = DEFAULT_MODULE_TIMEOUT
    kind: ClassVar[str] = "modules"
    fixed_slots: ClassVar[bool] = False
    caps_structures: ClassVar[bool] = False  # published code is what it is
    executes: ClassVar[bool] = False  # no contract is known for code people wrote (yet)
    # Published code has a long tail: of the 3,532 kernels of the real split that make rows
    # uncapped, 200,000 keeps 99.4% (both configs; 120,000 kept 98.4%) and drops 20-21 kernels
    # of 201k to 891k characters (reports/code_size_cap.json).
    max_code_chars: ClassVar[int] = 200_000
    sample_seed: ClassVar[int] = 0

    @property
    def shards(self) -> int:
        return -(-len(self.targets) // self.modules_per_shard)

    def targets_of(self, shard_index: int) -> tuple[ModuleTarget, ...]:
        start = shard_index * self.modules_per_shard
        return self.targets[start : start + self.modules_per_shard]

    def kernels(self, shard_index: int) -> ShardKernels:
        """The kernels of the shard's modules, each module imported alone, and what was rejected."""
        specs, rejects = [], []
        with ImportServer() as server:
            for target in self.targets_of(shard_index):
                found: ProbeResult = server.probe(target, self.timeout)
                for r in found.rejects:
                    rejects.append({"module": target.name, **r})
                for k in found.kernels:
                    specs.append(KernelSpec(None, REAL_FAMILY, k["kernel_name"], k["python_source"], k["origin"], target.license))
        return ShardKernels(lambda stream, attempt: specs[attempt] if attempt < len(specs) else None, tuple(rejects))

    def stream(self, slot: int) -> int:
        return 0

    @cached_property
    def digest(self) -> str:
        """Identity of the input: every module's name, origin, licence and file contents."""
        h = hashlib.sha256()
        for t in self.targets:
            h.update(f"{t.name}\0{t.origin}\0{t.license}\0{t.by_path}\0".encode())
            h.update(hashlib.sha256(Path(t.path).read_bytes()).digest())
        return h.hexdigest()[:16]

    def metadata(self) -> dict[str, str]:
        return {"source": self.kind, "seed": "", "generator_version": "", "source_digest": self.digest}

    def reject_record(self, shard_index, slot, kernel_name, origin, row, reason, message) -> dict:
        return {"module": None, "kernel": kernel_name, "reason": reason, "message": message, "origin": origin}


# -- SOURCE arguments → modules ----------------------------------------------------------------
@dataclass
class Found:
    """What a set of SOURCE arguments holds: modules to import and ``@wp.kernel`` decorations."""

    targets: list[ModuleTarget] = field(default_factory=list)
    decorations: dict[str, int] = field(default_factory=dict)  # origin (file) → @wp.kernel count
    license_sources: dict[str, str] = field(default_factory=dict)  # origin (file) → where its licence was read
    warp_files: int = 0  # files that import Warp (or import relatively): those that may hold kernels


_SKIPPED_DIRS = {"__pycache__", "build", "dist", "node_modules"}


def find_modules(sources: list[str], license: str | None = None) -> Found:
    """Resolve each SOURCE (a ``.py`` file, a folder searched recursively, or an importable
    module or package name) to the modules to import, in a fixed order."""
    found = Found()
    seen: set[str] = set()
    for source in sources:
        for target, decorations, license_source in _resolve(source, license):
            if target.path in seen:
                continue
            seen.add(target.path)
            found.targets.append(target)
            found.decorations[target.origin] = max(decorations, 0)
            found.license_sources[target.origin] = license_source
            found.warp_files += decorations >= 0
    return found


def _resolve(source: str, license: str | None):
    path = Path(source)
    if path.exists():
        root = path.resolve()
        files = [root] if root.is_file() else _python_files(root)
        base = root.parent if root.is_file() else root
        import_root = _import_root(base)
        # A project's setup.py runs setuptools when imported (and may write into the tree): never a module.
        files = [f for f in files if not (f.name == "setup.py" and f.parent == base and root.is_dir())]
        found_license, where = (license, "--license") if license else tree_license(base)
        for f in files:
            yield _target(f, f.relative_to(base).as_posix(), found_license, import_root), count_kernel_decorations(f), where
        return
    if source.endswith(".py") or os.sep in source or not re.fullmatch(r"[A-Za-z_][\w.]*", source):
        raise SourceError(f"{source}: no such file or folder")
    top = source.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)  # the top-level package only: nothing of it runs
    except (ImportError, ValueError):
        spec = None
    if spec is None or not (spec.origin or spec.submodule_search_locations):
        raise SourceError(f"{source}: no such file, folder or importable module")
    top_dir = Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations else Path(spec.origin)
    inner = top_dir.joinpath(*source.split(".")[1:])
    where = inner if inner.is_dir() else inner.with_suffix(".py") if inner.with_suffix(".py").is_file() else None
    if where is None:
        raise SourceError(f"{source}: no such module in {top_dir}")
    site = top_dir.parent
    dist, version, dist_license = _distribution(top, top_dir)
    files = [where] if where.is_file() else _python_files(where)
    where = "--license" if license else f"{dist}'s package metadata" if dist_license else "unknown"
    for f in files:
        rel = f.relative_to(site).as_posix()
        origin = f"{dist}=={version}:{rel}" if dist else rel
        yield _target(f, origin, license or dist_license), count_kernel_decorations(f), where


def _python_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*.py")
        if not any(part.startswith(".") or part in _SKIPPED_DIRS for part in p.relative_to(folder).parts[:-1])
    )


def _import_root(folder: Path) -> Path | None:
    """The folder a source tree's own absolute imports (``from pkg._src.x import y``) resolve
    from, as ``pip install -e`` would put it on ``sys.path``:

    - a package folder (it has ``__init__.py``): the folder above its topmost package;
    - a project root with a ``src/`` layout (``src/<pkg>/__init__.py``): ``src``;
    - a project root (``pyproject.toml``, ``setup.py`` or ``setup.cfg``) with packages at its top: itself;
    - anything else (a folder of scripts): none, each script imported from its own folder."""
    if (folder / "__init__.py").is_file():
        while (folder.parent / "__init__.py").is_file():
            folder = folder.parent
        return folder.parent
    src = folder / "src"
    if src.is_dir() and any((p / "__init__.py").is_file() for p in src.iterdir() if p.is_dir()):
        return src
    if any((folder / name).is_file() for name in ("pyproject.toml", "setup.py", "setup.cfg")):
        return folder
    return None


def _target(file: Path, origin: str, license: str | None, import_root: Path | None = None) -> ModuleTarget:
    """A file in a package is imported by its dotted name: from the source tree's import root
    (folders inside the package need no ``__init__.py``, as Python's namespace packages), else
    with ``__init__.py`` all the way up. A script is imported by its path, with its folder (and
    the import root, so it can import the tree's packages) on ``sys.path``."""
    if import_root is not None and import_root in file.parents:
        parts = list(file.relative_to(import_root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts and (import_root / parts[0] / "__init__.py").is_file() and all(p.isidentifier() for p in parts):
            return ModuleTarget(".".join(parts), str(file), str(import_root), False, origin, license, str(import_root))
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) > (0 if file.name == "__init__.py" else 1) and all(p.isidentifier() for p in parts):
        return ModuleTarget(".".join(parts), str(file), str(folder), False, origin, license)
    name = "wirds_script_" + re.sub(r"\W", "_", file.stem)
    paths = [str(file.parent)] + ([str(import_root)] if import_root is not None and import_root != file.parent else [])
    return ModuleTarget(name, str(file), os.pathsep.join(paths), True, origin, license, str(import_root or ""))


@lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # reads every installed RECORD: once


def _distribution(top: str, top_dir: Path) -> tuple[str | None, str | None, str | None]:
    """The installed distribution that ships package ``top``: name, version and SPDX licence."""
    for dist_name in sorted(_packages_distributions().get(top, [])):
        dist = importlib.metadata.distribution(dist_name)
        if Path(dist.locate_file(top)).resolve() != top_dir.resolve():
            continue
        meta = dist.metadata
        license = meta.get("License-Expression") or _spdx(meta.get("License"))
        return meta["Name"], dist.version, license
    return None, None, None


# What a licence file says, as an SPDX id: only the licences that can be told apart with
# certainty from their text; anything else stays unknown rather than guessed.
_LICENSE_TEXTS = (
    ("Apache-2.0", ("Apache License", "Version 2.0")),
    ("MPL-2.0", ("Mozilla Public License", "Version 2.0")),
    ("MIT", ("Permission is hereby granted, free of charge",)),
    ("BSD-3-Clause", ("Redistribution and use in source and binary forms", "Neither the name")),
    ("BSD-2-Clause", ("Redistribution and use in source and binary forms",)),
)
_PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def tree_license(folder: Path) -> tuple[str | None, str]:
    """The SPDX id of a source tree's licence, and where it was read: ``pyproject.toml``'s
    ``license`` (an SPDX expression, ``{text = ...}`` or ``{file = ...}``), else a ``LICENSE``,
    ``LICENCE`` or ``COPYING`` file, in the SOURCE folder or a folder above it up to the
    project's root. ``(None, "unknown")`` when nothing says so with certainty."""
    for here in [folder, *folder.parents][:6]:
        spdx, where = _pyproject_license(here)
        if spdx is None:
            spdx, where = _license_file(here)
        if spdx is not None:
            return spdx, f"{where} in {'the SOURCE folder' if here == folder else here.name + '/'}"
        if any((here / marker).exists() for marker in _PROJECT_MARKERS):
            break  # the project's root: what is above it is someone else's
    return None, "unknown"


def _pyproject_license(folder: Path) -> tuple[str | None, str]:
    path = folder / "pyproject.toml"
    try:
        import tomllib

        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (ImportError, OSError, ValueError):
        return None, ""
    value = project.get("license")
    if isinstance(value, str):
        return _spdx(value), "pyproject.toml"
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return _spdx(value["text"]), "pyproject.toml"
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        return _license_text((folder / value["file"])), f"pyproject.toml's {value['file']}"
    return None, ""


def _license_file(folder: Path) -> tuple[str | None, str]:
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file() and re.fullmatch(r"(LICEN[CS]E|COPYING)(\.(txt|md|rst))?", path.name, re.I):
            spdx = _license_text(path)
            if spdx is not None:
                return spdx, path.name
    return None, ""


def _license_text(path: Path) -> str | None:
    try:
        text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return None
    for spdx, phrases in _LICENSE_TEXTS:
        if all(p in text for p in phrases):
            return spdx
    return None


def _spdx(text: str | None) -> str | None:
    """A bare SPDX id when the free-text License field is one (``Apache-2.0``); else unknown."""
    return text.strip() if text and re.fullmatch(r"[A-Za-z0-9.+-]+", text.strip()) else None


def count_kernel_decorations(file: Path) -> int:
    """``@wp.kernel`` / ``@wp.kernel(...)`` / ``@kernel`` decorations written in a file: what
    the kernels reached by importing it are measured against. -1 when the file does not even
    import Warp (it cannot define a kernel), 0 when it may make kernels without the decorator."""
    try:
        tree = ast.parse(file.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return -1
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imports |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    if "warp" not in imports and not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)):
        return -1
    count = 0
    for node in ast.walk(tree):
        for d in getattr(node, "decorator_list", ()):
            d = d.func if isinstance(d, ast.Call) else d
            name = d.attr if isinstance(d, ast.Attribute) else d.id if isinstance(d, ast.Name) else ""
            count += name == "kernel"
    return count
