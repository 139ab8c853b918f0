"""What ``build`` and ``extract`` check before any work starts: the configs, the device options
they share, and the output folder (writable, and locked against a second writer). Bad input ends
in one line (:class:`BuildError`, printed by ``cli.run_cli``)."""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

import click

from . import _warp
from .schema import CONFIGS
from .validate import MODES, ValidationPlan


class BuildError(click.ClickException):
    pass


def prepare_folder(folder: Path):
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


def check_config(config: str) -> None:
    if config not in CONFIGS:
        raise BuildError(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")


def check_output_file(path: Path, option: str) -> None:
    """A file a command writes when its work is done: checked before the work, so a long run does
    not end in an error."""
    folder = path.parent
    if path.is_dir():
        raise BuildError(f"{option} {path}: is a folder; name a file")
    if not folder.is_dir():
        raise BuildError(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BuildError(f"{option} {path}: cannot write there")


def device_plans(config: str, validate: str, arch: str, ptx: bool, execute: bool = True) -> dict[str, ValidationPlan]:
    """Each config ``--config`` names (see :func:`parse_configs`) with its validation plan, from
    the options ``build`` and ``extract`` share; bad ones end in one line. ``--ptx`` applies to the
    cuda config."""
    configs = parse_configs(config)
    if ptx and "cuda" not in configs:
        raise BuildError("--ptx needs --config cuda (PTX is NVRTC's output for CUDA code)")
    return {c: _device_plan(c, validate, arch, ptx and c == "cuda", execute) for c in configs}


def _device_plan(config: str, validate: str, arch: str, ptx: bool, execute: bool) -> ValidationPlan:
    check_config(config)
    if validate not in MODES:
        raise BuildError(f"unknown --validate {validate!r}; choose from {', '.join(MODES)}")
    if not re.fullmatch(r"sm_\d{2,3}", arch):
        raise BuildError(f"--arch must look like sm_90, got {arch!r}")
    if config == "cuda" and (validate != "none" or ptx):
        archs = _warp.nvrtc_archs()
        if int(arch[3:]) not in archs:
            raise BuildError(f"--arch {arch}: Warp's NVRTC compiles for {', '.join(f'sm_{a}' for a in sorted(archs))}")
    return ValidationPlan(validate, int(arch[3:]), ptx, execute)


def parse_configs(config: str) -> list[str]:
    """``cpu``, ``cuda``, a comma-separated list, or ``all``: the configs in their fixed order."""
    names = list(CONFIGS) if config.strip() == "all" else [c.strip() for c in config.split(",")]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown or not names:
        raise BuildError(f"unknown config {(unknown or [config])[0]!r}; choose from {', '.join(CONFIGS)}, a list such as cpu,cuda, or all")
    if len(set(names)) != len(names):
        raise BuildError(f"--config {config}: a config is named twice")
    return [c for c in CONFIGS if c in names]
