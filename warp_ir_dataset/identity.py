"""What a build or an extraction is, in one place: the settings that determine its rows, stored
in every shard's metadata as JSON (``identity``), the command line that reproduces them, and
one command for configs made in one pass.

An identity is a plain dict: ``{"command": "build", "config": "cpu", "target_mb": 200.0,
"seed": 0, "rows_per_shard": 500, "validate": "sample", "arch": 90, "ptx": false,
"execute": true, "max_code_chars": null}`` or ``{"command": "extract", "sources": [...], "config": "cuda", "split":
"real", "modules_per_shard": 8, "validate": "sample", "arch": 90, "ptx": false, "license": null,
"max_code_chars": null}``.
The card reads identities, never command strings.
"""
from __future__ import annotations

import json

CUDA_ONLY = ("arch", "ptx")  # settings a cpu config does not have


def build_identity(config: str, target_mb: float, seed: int, rows_per_shard: int, plan, max_code_chars: int | None = None) -> dict:
    return {"command": "build", "config": config, "target_mb": target_mb, "seed": seed, "rows_per_shard": rows_per_shard,
            "validate": plan.mode, "arch": plan.arch, "ptx": plan.ptx, "execute": plan.execute, "max_code_chars": max_code_chars}


def extract_identity(sources: tuple[str, ...], config: str, split: str, modules_per_shard: int, plan, license: str | None,
                     max_code_chars: int | None = None) -> dict:
    return {"command": "extract", "sources": list(sources), "config": config, "split": split, "modules_per_shard": modules_per_shard,
            "validate": plan.mode, "arch": plan.arch, "ptx": plan.ptx, "license": license, "max_code_chars": max_code_chars}


def to_json(identity: dict) -> str:
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


def command_line(identity: dict) -> str:
    """The command that reproduces the rows (not where they go, nor how many workers)."""
    cuda = identity["config"] != "cpu"
    tail = (f" --arch sm_{identity['arch']}" if cuda else "") + (" --ptx" if identity["ptx"] else "")
    if identity.get("max_code_chars") is not None:  # None: the default of the kind of rows
        tail += f" --max-code-chars {identity['max_code_chars']}"
    if identity["command"] == "build":
        return (
            f"python -m warp_ir_dataset.build --config {identity['config']} --target-mb {identity['target_mb']:g} "
            f"--seed {identity['seed']} --rows-per-shard {identity['rows_per_shard']} --validate {identity['validate']}"
            + tail + ("" if identity["execute"] else " --no-execute")
        )
    return (
        f"python -m warp_ir_dataset.extract {' '.join(identity['sources'])} --config {identity['config']} --split {identity['split']} "
        f"--modules-per-shard {identity['modules_per_shard']} --validate {identity['validate']}"
        + tail + (f" --license {identity['license']}" if identity["license"] else "")
    )


def one_pass(identities: list[dict]) -> list[dict]:
    """The identities, those that differ only in their config (and the settings only cuda has)
    merged into one of ``config`` ``all``, which makes the same rows in one pass."""
    merged: list[dict] = []
    groups: dict[str, list[dict]] = {}
    for identity in identities:
        key = to_json({k: v for k, v in identity.items() if k not in ("config", *CUDA_ONLY)})
        groups.setdefault(key, []).append(identity)
    for group in groups.values():
        configs = sorted({i["config"] for i in group})
        cuda = [i for i in group if i["config"] == "cuda"]
        if configs == ["cpu", "cuda"] and len(group) == 2:
            merged.append({**cuda[0], "config": "all"})
        else:
            merged += group
    return merged
