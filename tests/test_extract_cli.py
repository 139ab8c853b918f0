"""`python -m warp_ir_dataset.extract`: rows from someone's Warp code (a fixture package made
for these tests: module-level kernels, a factory, a generic kernel with two overloads, a
struct and a chain of functions, modules that raise, crash or hang on import, a script)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import ROOT, run_module, snapshot

FIXTURE = ROOT / "tests" / "fixtures" / "realpkg"
EXPECTED_KERNELS = {  # kernel name → rows (a factory's two variants, a generic kernel's two overloads)
    "integrate": 1, "weights": 1, "scale": 2, "add_generic": 2, "blend": 1,
    "never_overloaded": 1,  # generic, no wp.overload: made concrete with float32 for its Any
    "generic_state": 1,  # and with the module's struct that has the fields it reads of an Any
}


def extract(out: Path, *sources: str, config: str = "cpu", check: bool = True, extra=()) -> subprocess.CompletedProcess:
    return run_module(
        "warp_ir_dataset.extract", *sources, "--config", config, "--out", str(out), "--quiet", "--validate", "all",
        "--module-timeout", "25", "--modules-per-shard", "3", "--workers", "2", *extra, check=check,
    )


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    out = tmp_path_factory.mktemp("extract") / "data"
    proc = extract(out, str(FIXTURE), extra=("--license", "MIT"))
    return out, proc


def rows(folder: Path, config: str = "cpu") -> list[dict]:
    return [r for p in sorted((folder / config).glob("train-*.parquet")) for r in pq.read_table(p).to_pylist()]


def rejects(folder: Path, config: str = "cpu") -> list[dict]:
    return [json.loads(line) for p in sorted((folder / config).glob("rejects-train-*.jsonl")) for line in p.read_text().splitlines()]


def test_every_reachable_kernel_becomes_a_row(extracted):
    out, proc = extracted
    got = rows(out)
    names = {}
    for r in got:
        names[r["kernel_name"]] = names.get(r["kernel_name"], 0) + 1
    assert names == EXPECTED_KERNELS
    assert all(r["family"] == "real" and r["seed"] is None and r["license"] == "MIT" for r in got)
    assert all(r["validation"] == "compiled" for r in got)  # --validate all: clang compiled each one
    assert len({r["id"] for r in got}) == len(got)
    assert len(got) == 9 and "9 rows from 8 modules" in proc.stdout
    defaulted = next(r for r in got if r["kernel_name"] == "never_overloaded")
    assert "wp.overload(never_overloaded, [wp.array(dtype=wp.float32, ndim=1)])" in defaulted["python_source"]
    with_struct = next(r for r in got if r["kernel_name"] == "generic_state")["python_source"]
    assert "wp.overload(generic_state, [Particles, " in with_struct and "class Particles:" in with_struct and "Springs" not in with_struct


def test_rejects_say_what_failed_and_why(extracted):
    out, proc = extracted
    by_module = {r["module"]: r for r in rejects(out) if r["kernel"] is None}
    assert by_module["wirds_fixture.broken"]["reason"] == "import-error"
    assert "fails on import, on purpose" in by_module["wirds_fixture.broken"]["message"]
    assert by_module["wirds_fixture.crashes"]["reason"] == "import-crashed"
    assert "SIGABRT" in by_module["wirds_fixture.crashes"]["message"]
    assert by_module["wirds_fixture.hangs"]["reason"] == "import-timeout"
    kernels = {r["kernel"]: r["reason"] for r in rejects(out) if r["kernel"] is not None}
    assert kernels == {"never_overloaded_bits": "generic-without-overload", "does_not_build": "unresolved-name"}  # float32 was our choice, not the author's
    assert "modules rejected: 1 import-crashed, 1 import-error, 1 import-timeout" in proc.stdout
    # reached (9 rows + 2 rejected kernels) against the decorations written in the files
    assert "11 kernels reached by importing, against 13 @wp.kernel decorations" in proc.stdout


def test_origin_points_at_the_kernel_in_its_file(extracted):
    out, _ = extracted
    for r in rows(out):
        path, line = r["origin"].rsplit(":", 1)
        source_lines = (FIXTURE / path).read_text().splitlines()
        assert "@wp.kernel" in source_lines[int(line) - 1], r["origin"]


def test_python_source_is_self_contained_and_states_what_the_code_depends_on(extracted):
    out, _ = extracted
    by_name = {}
    for r in rows(out):
        by_name.setdefault(r["kernel_name"], []).append(r)
    integrate = by_name["integrate"][0]["python_source"]
    for needed in ("class Body", "def energy", "def total", "def square", "def scaled_square", "SCALE = 2.5", "MAX_ITERS = 4",
                   "class Mode(enum.IntEnum)", "GRAVITY = wp.constant", "wp.set_module_options({'enable_backward': False})"):
        assert needed in integrate, needed
    assert integrate.index("def square") < integrate.index("def scaled_square") < integrate.index("def integrate")
    assert by_name["integrate"][0]["backward_code"] is None  # the module turned the backward pass off
    variants = sorted(r["python_source"] for r in by_name["scale"])
    assert "factor = 0.5" in variants[0] + variants[1] and "factor = 2.0" in variants[0] + variants[1]
    assert all("@wp.kernel(module='unique')" in v for v in variants)
    overloads = " ".join(r["python_source"] for r in by_name["add_generic"])
    assert "wp.overload(add_generic, [wp.array(dtype=wp.float32" in overloads and "dtype=wp.vec3" in overloads


def test_each_source_executed_alone_in_a_fresh_process_gives_the_rows_code(extracted, tmp_path):
    out, _ = extracted
    got = rows(out)
    script = (
        "import sys, json; from warp_ir_dataset.codegen import kernel_row; from warp_ir_dataset.generate import KernelSpec\n"
        "for line in sys.stdin:\n"
        "    r = json.loads(line)\n"
        "    print(json.dumps(kernel_row(KernelSpec(None, 'real', r['kernel_name'], r['python_source']), 'cpu')[0]['forward_code']))\n"
    )
    payload = "".join(json.dumps({"kernel_name": r["kernel_name"], "python_source": r["python_source"]}) + "\n" for r in got)
    proc = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True, text=True, cwd=ROOT, check=True)
    again = [json.loads(line) for line in proc.stdout.splitlines()]
    assert again == [r["forward_code"] for r in got]


def test_a_rerun_gives_the_same_bytes_and_load_dataset_reads_it(extracted, tmp_path, monkeypatch):
    out, _ = extracted
    again = tmp_path / "again"
    extract(again, str(FIXTURE), extra=("--license", "MIT"))
    first, second = snapshot(out), snapshot(again)
    first.pop("cpu/extraction-train.json"), second.pop("cpu/extraction-train.json")  # holds wall time
    assert first == second
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    ds = load_dataset(str(out), "cpu", split="train")
    assert sorted(ds["id"]) == sorted(r["id"] for r in rows(out))
    assert set(ds.column_names) >= {"origin", "license"}


def test_a_finished_extraction_is_kept_on_rerun_and_other_settings_are_refused(extracted):
    out, _ = extracted
    before = snapshot(out)
    proc = extract(out, str(FIXTURE), extra=("--license", "MIT"))
    assert "8 modules" in proc.stdout
    after = snapshot(out)
    before.pop("cpu/extraction-train.json"), after.pop("cpu/extraction-train.json")
    assert before == after
    refused = extract(out, str(FIXTURE / "scripts"), check=False)
    assert refused.returncode == 1 and "use another --out" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    "sources, message",
    [
        (["/no/such/place.py"], "no such file or folder"),
        (["no_such_module_xyz"], "no such file, folder or importable module"),
        ([str(FIXTURE / "wirds_fixture" / "no_kernels.py")], "no Warp kernel in"),
    ],
)
def test_bad_sources_are_one_line_and_a_non_zero_exit(tmp_path, sources, message):
    proc = extract(tmp_path / "out", *sources, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("extract: error:")


def test_a_module_that_imports_warp_but_registers_no_kernel_is_one_line_too(tmp_path):
    proc = extract(tmp_path / "out", str(FIXTURE / "wirds_fixture" / "helpers.py"), check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "no kernel could be extracted" in lines[0]
    assert "no @wp.kernel in it" in lines[0] and "rejects" not in lines[0]  # nothing was rejected: no file to point at


def test_an_importable_package_name_is_a_source_and_cuda_rows_are_generated(tmp_path):
    env_path = f"{FIXTURE}"
    proc = run_module(
        "warp_ir_dataset.extract", "wirds_fixture.helpers", "wirds_fixture.physics", "--config", "cuda", "--out", str(tmp_path),
        "--quiet", "--validate", "none", "--workers", "1", check=True, env_extra={"PYTHONPATH": env_path},
    )
    got = rows(tmp_path, "cuda")
    assert {r["kernel_name"] for r in got} == {"integrate", "weights", "scale", "add_generic", "never_overloaded", "generic_state"}
    assert all("__global__" in r["forward_code"] and r["device"] == "cuda" for r in got)
    assert all(r["origin"].startswith("wirds_fixture/physics.py:") for r in got), got[0]["origin"]
    assert "8 rows from 2 modules" in proc.stdout


def test_builder_class_yields_the_extracted_rows_as_its_real_split(tmp_path):
    from builder_scripts.warp_ir_dataset import WarpIRDataset

    sources = (str(FIXTURE / "scripts"), str(FIXTURE / "wirds_fixture" / "physics.py"))
    run_module("warp_ir_dataset.extract", *sources, "--config", "cpu", "--out", str(tmp_path / "cli"), "--split", "real", "--quiet", "--workers", "1", "--validate", "none", check=True)
    cli = [r for p in sorted((tmp_path / "cli" / "cpu").glob("real-*.parquet")) for r in pq.read_table(p).to_pylist()]
    builder = WarpIRDataset(config_name="cpu", target_mb=0.01, real=True, real_sources=sources, validate="none", cache_dir=str(tmp_path / "hf"))
    builder.download_and_prepare(file_format="parquet")
    built = [r for f in sorted((tmp_path / "hf").rglob("*-real*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert len(cli) == 9 and built == cli


TREE = ROOT / "tests" / "fixtures" / "srctree"


@pytest.mark.parametrize("source,origins", [
    # a project root with a src layout: the package by name, the example script beside it
    ("", {"halve": "src/wirds_tree/kernels/halve.py", "triple_half": "examples/triple_half.py"}),
    # the package folder itself (a clone's package folder): imported as the package it is
    ("src/wirds_tree", {"halve": "kernels/halve.py"}),
])
def test_a_source_tree_is_imported_as_its_packages_so_absolute_imports_work(tmp_path, source, origins):
    out = tmp_path / "out"
    proc = extract(out, str(TREE / source))
    got = {r["kernel_name"]: r["origin"].rsplit(":", 1)[0] for r in rows(out)}
    assert got == origins  # origin stays relative to the SOURCE given
    by_name = {r["kernel_name"]: r for r in rows(out)}
    assert "def half(" in by_name["halve"]["python_source"] and "import wirds_tree" not in by_name["halve"]["python_source"]
    if "triple_half" in by_name:  # a script's use of the tree's package is the user's code, written out
        assert "def half(" in by_name["triple_half"]["python_source"] and "wirds_tree" not in by_name["triple_half"]["python_source"]
    # the one module that cannot import says which package is missing, and what it costs
    missing = [r for r in rejects(out) if r["reason"] == "import-error"]
    assert len(missing) == 1 and "wirds_package_nobody_installed" in missing[0]["message"]  # setup.py is never imported
    assert all(str(ROOT) not in r["message"] for r in rejects(out))
    assert "wirds_package_nobody_installed (1 modules, 2 @wp.kernel)" in proc.stdout
    report = json.loads((out / "cpu" / "extraction-train.json").read_text())
    assert report["missing_packages"] == {"wirds_package_nobody_installed": {"kernels": 2, "modules": 1}}
    # no --license: the project's pyproject.toml says it, and the report says where it was read
    assert {r["license"] for r in rows(out)} == {"BSD-3-Clause"}
    assert all("pyproject.toml in " in w for ws in report["license_sources"].values() for w in ws), report["license_sources"]


@pytest.mark.parametrize("files,expected", [
    ({"pyproject.toml": '[project]\nname = "x"\nlicense = "MIT"\n'}, ("MIT", "pyproject.toml")),
    ({"pyproject.toml": '[project]\nname = "x"\nlicense = {text = "Apache-2.0"}\n'}, ("Apache-2.0", "pyproject.toml")),
    ({"pyproject.toml": '[project]\nname = "x"\nlicense = {file = "LICENSE.txt"}\n',
      "LICENSE.txt": "MIT License\n\nPermission is hereby granted, free of charge, to any person"}, ("MIT", "pyproject.toml's LICENSE.txt")),
    ({"LICENSE": "Apache License\n Version 2.0, January 2004\n"}, ("Apache-2.0", "LICENSE")),
    ({"COPYING": "Redistribution and use in source and binary forms, with or without\nmodification ... Neither the name of"}, ("BSD-3-Clause", "COPYING")),
    ({"LICENSE": "GNU GENERAL PUBLIC LICENSE Version 3"}, (None, "unknown")),  # not told apart with certainty: unknown
    ({"pyproject.toml": '[project]\nname = "x"\nlicense = "Some custom terms"\n'}, (None, "unknown")),
])
def test_the_licence_is_read_from_the_tree_or_left_unknown(tmp_path, files, expected):
    from warp_ir_dataset.sources import tree_license

    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    for name, text in files.items():
        (project / name).write_text(text)
    spdx, where = tree_license(project / "pkg")  # the SOURCE folder is below the project's root
    assert (spdx, where.split(" in ")[0]) == expected
    if spdx:
        assert where.endswith("in project/")
    (tmp_path / "LICENSE").write_text("MIT License Permission is hereby granted, free of charge")
    if not files.get("pyproject.toml"):
        return
    # above the project's root is someone else's: never read
    assert tree_license(project / "pkg")[0] == expected[0]


def test_nothing_extracted_for_want_of_a_package_says_which_one(tmp_path):
    proc = extract(tmp_path / "out", str(TREE / "src" / "wirds_tree" / "needs_missing.py"), check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1
    assert "no kernel could be extracted" in lines[0] and "wirds_package_nobody_installed (1 modules, 2 @wp.kernel)" in lines[0]


def test_config_all_imports_once_for_both_devices_and_resumes_a_one_config_extraction(tmp_path):
    physics = str(FIXTURE / "wirds_fixture" / "physics.py")
    both, cuda_alone = tmp_path / "both", tmp_path / "cuda"
    extract(both, physics)  # cpu only, then both: the cpu shards are kept, cuda's are added
    cpu_alone = snapshot(both)
    proc = extract(both, physics, config="all")
    extract(cuda_alone, physics, config="cuda")
    timed = ("cpu/extraction-train.json", "cuda/extraction-train.json")

    def files(folder: Path, config: str) -> dict[str, bytes]:
        return {k: v for k, v in snapshot(folder).items() if k.startswith(f"{config}/") and k not in timed}

    assert files(both, "cpu") == {k: v for k, v in cpu_alone.items() if k.startswith("cpu/") and k not in timed}
    assert files(both, "cuda") == files(cuda_alone, "cuda") != {}
    assert len(rows(both, "cuda")) == len(rows(both, "cpu")) == 8
    assert proc.stdout.count("8 rows from 1 module into") == 2, proc.stdout


def test_a_resumed_extraction_counts_the_rows_it_finds_on_disk_as_kept(tmp_path):
    physics = str(FIXTURE / "wirds_fixture" / "physics.py")
    extract(tmp_path / "out", physics)
    again = run_module("warp_ir_dataset.extract", physics, "--config", "cpu", "--out", str(tmp_path / "out"), "--validate", "all",
                       "--module-timeout", "25", "--modules-per-shard", "3", "--workers", "2", check=True)
    assert "1/1 modules, 8 rows kept" in again.stderr.splitlines()[-1] and "done" in again.stderr.splitlines()[-1], again.stderr
    assert "8 rows from 1 module into" in again.stdout


def test_the_size_cap_drops_longer_kernels_as_rejects_that_say_their_size(tmp_path):
    whole = tmp_path / "whole"
    extract(whole, str(TREE), extra=("--validate", "none"))
    sizes = sorted(sum(len(r[c] or "") for c in ("forward_code", "backward_code", "helper_code")) for r in rows(whole))
    cap = sizes[len(sizes) // 2]
    capped = tmp_path / "capped"
    extract(capped, str(TREE), extra=("--validate", "none", "--max-code-chars", str(cap)))
    kept = [sum(len(r[c] or "") for c in ("forward_code", "backward_code", "helper_code")) for r in rows(capped)]
    dropped = [r for r in rejects(capped) if r["reason"] == "oversized"]
    assert sorted(kept) == [s for s in sizes if s <= cap]
    assert sorted(int(r["message"].split("generated code of ")[1].split(" ")[0]) for r in dropped) == [s for s in sizes if s > cap]
    assert all(f"over the cap of {cap} (--max-code-chars)" in r["message"] for r in dropped)


_LEAVES_STATE = '''
import builtins, os, sys
import warp as wp
builtins.WIRDS_LEFT_BY_A = True  # state a fresh interpreter would never see
wp.WIRDS_LEFT_BY_A = True
os.environ["WIRDS_LEFT_BY_A"] = "1"
'''
_READS_STATE = '''
import builtins, os, sys
import warp as wp
if hasattr(builtins, "WIRDS_LEFT_BY_A") or hasattr(wp, "WIRDS_LEFT_BY_A") or "WIRDS_LEFT_BY_A" in os.environ or "a_leaves_state" in sys.modules:
    raise RuntimeError("state of another module reached this one")

@wp.kernel
def b_kernel(x: wp.array(dtype=float)):
    x[wp.tid()] = 2.0
'''
_KILLS_ITS_PARENT = '''
import os, signal
import warp as wp
os.kill(os.getppid(), signal.SIGKILL)
'''


def test_modules_imported_by_one_warm_server_share_nothing_and_a_module_that_kills_it_costs_itself_only(tmp_path):
    from warp_ir_dataset.probe import ImportServer
    from warp_ir_dataset.sources import find_modules

    for name, text in {"a_leaves_state": _LEAVES_STATE, "b_reads_state": _READS_STATE, "c_kills_its_parent": _KILLS_ITS_PARENT,
                       "d_after_the_kill": _READS_STATE.replace("b_kernel", "d_kernel")}.items():
        (tmp_path / f"{name}.py").write_text(text)
    targets = sorted(find_modules([str(tmp_path)]).targets, key=lambda t: t.path)
    with ImportServer() as server:
        found = {Path(t.path).stem: server.probe(t, 60) for t in targets}
    assert not found["a_leaves_state"].rejects
    assert [k["kernel_name"] for k in found["b_reads_state"].kernels] == ["b_kernel"], found["b_reads_state"].rejects
    assert [r["reason"] for r in found["c_kills_its_parent"].rejects] == ["import-crashed"]
    assert [k["kernel_name"] for k in found["d_after_the_kill"].kernels] == ["d_kernel"], found["d_after_the_kill"].rejects
