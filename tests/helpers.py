"""Small helpers shared by the tests: run the CLI the way a user does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module: str, *args: str, check: bool = False, timeout: float = 600, env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    from warp_ir_dataset import scratch

    extra = dict(env_extra or {})
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []  # where Warp may be (a machine without the venv)
    path = os.pathsep.join([str(ROOT)] + ([extra.pop("PYTHONPATH")] if "PYTHONPATH" in extra else []) + inherited)
    with scratch.system_temp():  # a test that built rows in this process sent its TMPDIR to its own scratch folder
        env = {**os.environ, **extra, "PYTHONPATH": path}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout, cwd=kw.pop("cwd", ROOT), env=env, **kw
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def build(out: Path, config: str = "cpu", target_mb: float = 0.2, *extra: str, check: bool = True, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run the build CLI; without compiling rows unless ``extra`` asks (compiling is slow)."""
    validate = () if "--validate" in extra or "--ptx" in extra else ("--validate", "none")
    return run_module(
        "warp_ir_dataset.build", "--config", config, "--target-mb", str(target_mb), "--out", str(out), "--quiet", *validate, *extra,
        check=check, env_extra=env_extra,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every visible file under ``folder`` (what a loader or an upload would see)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def examples(n: int) -> int:
    """A property test's example count: ``n`` under the fixed draw that CI and ``./dev test`` use,
    ten times ``n`` with fresh draws under ``./dev test --explore`` (profiles in conftest.py)."""
    from hypothesis import settings

    return n if settings.default.derandomize else 10 * n


def comparable(rows: list[dict]) -> str:
    """Rows as text that compares equal when the rows are equal, NaN included (a launch's
    outputs hold NaN where a kernel never wrote, and NaN != NaN)."""
    import json

    return json.dumps(rows, sort_keys=True, default=repr)
