"""Same input, same bytes, wherever the build runs: another checkout folder, another place for
Warp and the published code it extracts (the way a second venv or a symlinked one names their
files), another kernel cache, temp folder, home, locale, time zone, hash seed and worker count.

Warp writes the absolute path of a function's file into the code it generates (its own
Python-written builtins such as ``quat_to_rpy``, a library's helpers): the rows must name those
files relative to their import root, or two machines publish different bytes under one id."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import ROOT, run_module, snapshot

from warp_ir_dataset import _warp

BUILD = ("--config", "all", "--target-mb", "0.15", "--seed", "3", "--rows-per-shard", "40", "--validate", "none", "--quiet")
EXTRACT = ("mujoco_warp._src.smooth", "--config", "cuda", "--split", "real", "--validate", "none", "--quiet")
# Where this machine's files are: none of it may reach a row.
ABSOLUTE_IN_CODE = re.compile(r'(?m)^// /|^#line \d+ "/')


def _commands(out: Path, workers: str) -> list[tuple[str, ...]]:
    return [("-m", "warp_ir_dataset.build", *BUILD, "--out", str(out), "--workers", workers),
            ("-m", "warp_ir_dataset.extract", *EXTRACT, "--out", str(out), "--workers", workers)]


def _run_elsewhere(args: tuple[str, ...], env: dict, cwd: Path) -> str:
    """Python run from ``cwd`` with only ``env``'s import roots added: not this checkout's."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=clean | env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _published(folder: Path) -> dict[str, bytes]:
    """Every file a user loads or downloads; an extraction's report also holds its time."""
    return {name: data for name, data in snapshot(folder).items() if not Path(name).name.startswith("extraction-")}


def _package_folder(name: str) -> Path:
    import importlib.util

    return Path(importlib.util.find_spec(name).origin).parent


def _machine_paths(*extra: Path) -> list[str]:
    places = {str(ROOT), sys.prefix, os.path.realpath(sys.prefix), str(_package_folder("warp").parent),
              tempfile.gettempdir(), str(Path.home()), *map(str, extra)}
    return sorted(p for p in places if len(p) > 1)


def _string_values(folder: Path):
    for path in sorted(folder.rglob("*.parquet")):
        table = pq.read_table(path)
        for name in table.column_names:
            if str(table.schema.field(name).type) in ("string", "large_string"):
                for value in table.column(name).to_pylist():
                    if value:
                        yield path, name, value


@pytest.fixture(scope="module")
def two_places(tmp_path_factory):
    """The same commands from this checkout and from another place set up unlike it in every way
    a machine can differ."""
    here = tmp_path_factory.mktemp("here") / "data"
    for command in _commands(here, "2"):
        run_module(*command[1:], check=True)

    alt = tmp_path_factory.mktemp("elsewhere")
    checkout, site = alt / "checkout", alt / "site-packages"
    shutil.copytree(ROOT / "warp_ir_dataset", checkout / "warp_ir_dataset", ignore=shutil.ignore_patterns("__pycache__"))
    site.mkdir()
    for package in ("warp", "mujoco_warp"):  # found here first: their files get other absolute paths
        (site / package).symlink_to(_package_folder(package), target_is_directory=True)
    for folder in ("cache", "tmp", "home"):
        (alt / folder).mkdir()
    env = {
        "PYTHONPATH": str(site), "WARP_CACHE_PATH": str(alt / "cache"), "TMPDIR": str(alt / "tmp"), "HOME": str(alt / "home"),
        "LC_ALL": "C", "LANG": "C", "TZ": "Pacific/Chatham", "PYTHONHASHSEED": "12345",
    }
    there = alt / "data"
    where = _run_elsewhere(("-c", "import warp, warp_ir_dataset; print(warp.__file__); print(warp_ir_dataset.__file__)"), env, checkout)
    assert where.split() == [str(site / "warp" / "__init__.py"), str(checkout / "warp_ir_dataset" / "__init__.py")]
    for command in _commands(there, "1"):
        _run_elsewhere(command, env, checkout)
    return here, there, alt


def test_the_same_build_and_extraction_elsewhere_give_the_same_files(two_places):
    here, there, _ = two_places
    ours, theirs = _published(here), _published(there)
    assert sorted(ours) == sorted(theirs) and any(name.startswith("cuda/real-") for name in ours)
    assert [k for k in ours if ours[k] != theirs[k]] == []
    # the bug this guards against was there to be found: rows that name a Warp file
    rows_naming_warp = [v for _, name, v in _string_values(here) if name == "helper_code" and "warp/_src/" in v]
    assert rows_naming_warp


def test_no_string_of_any_row_names_a_folder_of_the_machine_that_built_it(two_places):
    here, there, alt = two_places
    for folder in (here, there):
        places = _machine_paths(alt, folder)
        for path, column, value in _string_values(folder):
            assert not ABSOLUTE_IN_CODE.search(value), (path, column)
            found = [p for p in places if p in value]
            assert not found, (path, column, found)


def test_paths_in_generated_code_are_relative_to_their_import_root(tmp_path):
    site = str(_package_folder("warp").parent)
    code = (f"// {site}/warp/_src/math.py:221\nstatic int f();\n#line 7 \"{site}/warp/_src/math.py\"\n"
            "// <wirds_0123>:4\n// x = a[0:3]\n")
    assert _warp.portable_code(code) == (
        "// warp/_src/math.py:221\nstatic int f();\n#line 7 \"warp/_src/math.py\"\n// <wirds_0123>:4\n// x = a[0:3]\n")
    # a folder that is no import root keeps the file's name only; a symlinked root resolves
    assert _warp.portable_path(str(tmp_path / "nowhere" / "mod.py")) == "mod.py"
    (tmp_path / "link").symlink_to(site, target_is_directory=True)
    assert _warp.portable_path(os.path.realpath(str(tmp_path / "link" / "warp" / "_src" / "math.py"))) == "warp/_src/math.py"


def test_error_messages_name_files_relative_to_their_import_root_or_source_tree(tmp_path):
    site = str(_package_folder("warp").parent)
    message = f'Error while parsing function "k" at {site}/warp/_src/math.py:33 and {tmp_path}/pkg/mod.py:4'
    assert _warp.portable_text(message, (str(tmp_path),)) == 'Error while parsing function "k" at warp/_src/math.py:33 and pkg/mod.py:4'
