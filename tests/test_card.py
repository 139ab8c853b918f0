"""The dataset card and the report: YAML that ``datasets`` loads, numbers equal to the stats."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from helpers import run_module
from test_stats import A, write_synthetic
from warp_ir_dataset.card import behaviour_section, write_card
from warp_ir_dataset.card_metadata import size_category, update_card_metadata
from warp_ir_dataset.stats import compute_stats


@pytest.fixture(scope="module")
def carded(small_dataset, tmp_path_factory) -> tuple[Path, Path, dict]:
    """A copy of the small build (other tests read the original) with its card and report written
    by the CLI, and the statistics computed independently."""
    root = tmp_path_factory.mktemp("card")
    folder = root / "data"
    shutil.copytree(small_dataset, folder, ignore=shutil.ignore_patterns(".*"))
    run_module("warp_ir_dataset.card", str(folder), "--reports", str(root / "reports"), check=True)
    return folder, root / "reports", compute_stats(folder)


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_card_yaml_loads_offline_with_the_true_counts(carded, config, monkeypatch, tmp_path):
    folder, _, stats = carded
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    ds = datasets.load_dataset(str(folder), config, cache_dir=str(tmp_path / "cache"))
    s = stats["configs"][config]
    assert {split: d.num_rows for split, d in ds.items()} == {split: v["rows"] for split, v in s["splits"].items()}
    card = DatasetCard.load(folder / "README.md")
    info = next(i for i in card.data["dataset_info"] if i["config_name"] == config)
    assert sum(sp["num_examples"] for sp in info["splits"]) == s["total"]["rows"]
    assert info["download_size"] == s["total"]["parquet_bytes"]


def test_card_front_matter_and_prose_come_from_the_stats(carded):
    folder, _, stats = carded
    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0" and data["pretty_name"]
    assert {"code", "compiler", "cuda", "ptx", "warp"} <= set(data["tags"])
    assert set(data["task_categories"]) == {"text-generation", "translation"}
    assert data["size_categories"] == [size_category(max(s["total"]["rows"] for s in stats["configs"].values()))]
    text = card.text
    from warp_ir_dataset.card import build_commands

    (one_pass,) = [c for c in build_commands(stats) if "warp_ir_dataset.build" in c]
    assert "--config all" in one_pass and one_pass in text  # the configs were built alike: one command rebuilds both
    for config, s in stats["configs"].items():
        t = s["total"]
        train, test = s["splits"]["train"]["rows"], s["splits"].get("test", {}).get("rows", 0)
        assert f"| `{config}` | {t['rows']} | {train} | {test} |" in text
    assert 'load_dataset("' in text and "## Limitations" in text and "$" not in text


def test_update_card_metadata_after_a_build_keeps_the_generated_card(carded):
    folder, _, _ = carded
    before = (folder / "README.md").read_text()
    update_card_metadata(folder)  # what every build does
    assert (folder / "README.md").read_text() == before


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def test_report_has_the_sections_and_the_stats_numbers(carded):
    folder, reports, stats = carded
    report = (reports / "dataset_report.md").read_text()
    for heading in ("## Key figures", "## Background in one minute", "## A worked example from the data", "## The dataset", "## What the code does", "## How to reproduce", "## Known limitations"):
        assert heading in report
    for config, s in stats["configs"].items():  # executed rows, by split, counted from the shards
        for split, part in s["splits"].items():
            if part["rows"] and split != "real":
                assert f"| `{config}` | {split} | {part['rows']} | {part['behaviour']['executed']} |" in report
    for word in ("JIT", "intermediate representation", "Warp", "PTX"):
        assert word.lower() in report.lower()
    saved = json.loads((reports / "dataset_stats.json").read_text())
    assert saved == stats
    for config, s in saved["configs"].items():
        assert f"{s['total']['rows']} rows in the `{config}` config" in report
        v = s["total"]["validation"]
        compiled = v.get("compiled", 0) + v.get("executed", 0)  # an executed row was compiled before it ran
        assert compiled and f"- `{config}`: {compiled} of {s['total']['rows']} rows" in report
        assert _pct(s["duplicates"]["near_duplicate_share"]) in report
        assert f"{_pct(s['builtins']['coverage'])} ({s['builtins']['distinct_used']} of {s['builtins']['kernel_callable']})" in report
        assert _pct(s["structure"]["distinct_fingerprint_share"]) in report
        card = (folder / "README.md").read_text()  # the long tables are the card's; the report stays short
        for family, n in s["total"]["rows_per_family"].items():
            assert re.search(rf"\| `{family}` \|.*\b{n}\b", card)
    # The worked example is a real row, quoted verbatim.
    source = re.search(r"```python\n(.*?)```", report, re.S).group(1)
    ids = {r for c in ("cpu", "cuda") for r in pq.read_table(folder / c, columns=["python_source"]).column(0).to_pylist()}
    assert any(s.strip() == source.strip() for s in ids)
    for name in re.findall(r"\]\((figures/[\w.]+\.png)\)", report):
        assert (reports / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in (reports / "figures").glob("*.png")} == {"rows_per_family.png", "lengths_cpu.png", "lengths_cuda.png", "builtins_coverage.png"}


def test_report_and_figures_are_deterministic(carded, tmp_path):
    folder, reports, _ = carded
    card_before = (folder / "README.md").read_bytes()
    run_module("warp_ir_dataset.card", str(folder), "--reports", str(tmp_path / "again"), check=True)
    for path in sorted(reports.rglob("*")):
        if path.is_file():
            assert (tmp_path / "again" / path.relative_to(reports)).read_bytes() == path.read_bytes(), path.name
    assert (folder / "README.md").read_bytes() == card_before


def test_worked_example_shows_ptx_when_a_row_has_it(tmp_path):
    folder = write_synthetic(tmp_path / "data", "cuda", with_ptx=True)
    write_card(folder, tmp_path / "reports", workers=1)
    report = (tmp_path / "reports" / "dataset_report.md").read_text()
    assert A.strip() in report  # the only row with PTX is chosen, though not the shortest
    assert ".visible .entry blend_cuda_kernel_forward(" in report
    assert "Generated by test" not in report  # the PTX excerpt starts at the entry point


def test_a_card_without_reports_keeps_its_report_beside_the_data_not_in_the_working_folder(tmp_path):
    # The repository's reports/ describes its production build: a card of another build must not
    # overwrite it when run from the repository's root.
    folder = write_synthetic(tmp_path / "data", "cpu")
    run_module("warp_ir_dataset.card", str(folder), check=True, cwd=tmp_path)
    assert (folder / "reports" / "dataset_report.md").is_file()
    assert (folder / "README.md").is_file()
    assert not (tmp_path / "reports").exists()


def test_card_cli_errors_are_one_line(tmp_path):
    proc = run_module("warp_ir_dataset.card", str(tmp_path / "missing"), "--reports", str(tmp_path / "r"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("card: error")
    assert not (tmp_path / "r").exists()
    (tmp_path / "a_file").write_text("")
    folder = write_synthetic(tmp_path / "data", "cpu")
    proc = run_module("warp_ir_dataset.card", str(folder), "--reports", str(tmp_path / "a_file" / "r"))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("card: error: ") and "a_file" in proc.stderr and "internal error" not in proc.stderr


def test_builtins_are_counted_by_warps_documentation_group(tmp_path, monkeypatch):
    from warp_ir_dataset import _warp

    groups = {name: ("Scalar Math" if name in {"sin", "cos", "abs"} else "Other") for name in _warp.kernel_builtins()}
    monkeypatch.setattr(_warp, "builtin_groups", lambda: groups)
    folder = write_synthetic(tmp_path / "data", "cpu")
    stats = write_card(folder, tmp_path / "reports", workers=1)
    by_group = stats["configs"]["cpu"]["builtins"]["by_group"]
    assert by_group["Scalar Math"] == {"kernel_callable": 3, "distinct_used": 3, "coverage": 1.0}
    assert "| Scalar Math | 3 | 3 (100.0%) |" in (tmp_path / "reports" / "dataset_report.md").read_text()


def test_recorded_wall_times_appear_in_the_report(tmp_path):
    folder = write_synthetic(tmp_path / "data", "cpu")
    reports = tmp_path / "reports"
    write_card(folder, reports, workers=1)
    assert "No wall times were recorded" in (reports / "dataset_report.md").read_text()
    runs = [{"command": "python -m warp_ir_dataset.build --config cpu --target-mb 200", "wall_seconds": 1017.5, "machine": "2 cores"}]
    (reports / "build_times.json").write_text(json.dumps(runs))
    write_card(folder, reports, workers=1)
    report = (reports / "dataset_report.md").read_text()
    assert "| `python -m warp_ir_dataset.build --config cpu --target-mb 200` | 17.0 min | 2 cores |" in report
    assert "No wall times were recorded" not in report


def test_baselines_scored_by_the_benchmark_appear_in_the_card_and_the_report(tmp_path):
    # The figures come from what benchmarks/baselines.py read back from evaluate's summary; here
    # from a summary written as evaluate writes it, so the card never shows a baseline not run.
    import importlib.util

    from helpers import ROOT
    from warp_ir_dataset.evaluate import summarize

    spec = importlib.util.spec_from_file_location("baselines", ROOT / "benchmarks" / "baselines.py")
    baselines = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baselines)
    folder = write_synthetic(tmp_path / "data", "cpu")
    reports, work = tmp_path / "reports", tmp_path / "work"
    work.mkdir()
    (work / "nearest.cpu.decompile.jsonl").write_text("")
    outcomes = [{"family": "noise", "outcome": o, "checks": {"parses": True}} for o in ("pass", "mismatch", "mismatch", "runtime_error")]
    (work / "nearest.cpu.decompile.outcomes.jsonl").write_text("")
    (work / "nearest.cpu.decompile.outcomes.summary.json").write_text(json.dumps(summarize(outcomes, "decompile")))
    (work / "nearest.cpu.decompile.wall").write_text(json.dumps({"seconds": 2.0, "resumed": False}))
    result = baselines.score(folder, work, "cpu", "decompile", "nearest", None, 2)
    assert result["pass_rate"] == 0.25 and result["candidates_per_second_per_worker"] == 1.0
    (reports).mkdir()
    (reports / "baselines.json").write_text(json.dumps({"commands": ["python -m warp_ir_dataset.predict ..."], "machine": "2 cores",
                                                         "rows": "the whole test split", "results": [result],
                                                         "speed_rows": "as measured on the first 4 rows"}))
    write_card(folder, reports, workers=1)
    card, report = (folder / "README.md").read_text(), (reports / "dataset_report.md").read_text()
    assert "| `cpu` | decompile | `nearest` | 4 | 1 | 2 | 1 | 0 | 0 | 0 | 25.0% | 1.0 |" in card
    assert "| `nearest` | 1/4 |" in report
    assert "Speed: as measured on the first 4 rows." in card


def test_a_real_split_is_reported_apart_from_the_synthetic_rows(tmp_path, monkeypatch):
    # The committed samples hold a real split (mujoco-warp's smooth.py) beside train/test.
    import json
    import shutil

    from helpers import ROOT

    folder = tmp_path / "samples"
    shutil.copytree(ROOT / "data" / "samples", folder)
    reports = tmp_path / "reports"
    run_module("warp_ir_dataset.card", str(folder), "--reports", str(reports), check=True)
    stats = json.loads((reports / "dataset_stats.json").read_text())
    for config in ("cpu", "cuda"):
        s = stats["configs"][config]
        real = s["extracted_splits"]["real"]
        assert real["rows"] == s["splits"]["real"]["rows"] > 0
        assert s["total"]["rows"] == sum(v["rows"] for k, v in s["splits"].items() if k != "real")  # the target's rows only
        assert "real" not in s["total"]["rows_per_family"]
        assert real["fingerprints_also_in_synthetic_splits"] == 0
        assert real["extraction"]["reached"] >= real["rows"]
    card = (folder / "README.md").read_text()
    report = (reports / "dataset_report.md").read_text()
    assert "## The `real` split: kernels people wrote" in card and "mujoco-warp==4.0.0:mujoco_warp/_src" in card
    # constructs per 100 statements, synthetic beside real, as the statistics counted them
    realism = next(s["realism"] for s in stats["configs"].values() if s.get("realism"))
    real_key = next(iter(realism["real"]))
    literals = [realism["synthetic"]["per_100_statements"]["float literals"], realism["real"][real_key]["per_100_statements"]["float literals"]]
    assert literals[0] > 0 and literals[1] > 0
    assert f"| float literals | {literals[0]:.1f} | {literals[1]:.1f}" in card
    # the report says it in brief, with the figures the card's tables hold
    assert "## Kernels people wrote" in report
    for config in ("cpu", "cuda"):
        real = stats["configs"][config]["extracted_splits"]["real"]
        assert f"`{config}`: {real['rows']} rows, {real['distinct_fingerprints']} structures" in report
    assert (reports / "figures" / "lengths_real_vs_synthetic.png").stat().st_size > 1000


def test_configs_built_alike_are_reproduced_by_one_command_from_their_identities():
    import json

    from warp_ir_dataset.card import build_commands
    from warp_ir_dataset.identity import build_identity, command_line, extract_identity, to_json
    from warp_ir_dataset.validate import ValidationPlan

    cpu = build_identity("cpu", 200.0, 0, 500, ValidationPlan("sample"))
    cuda = build_identity("cuda", 200.0, 0, 500, ValidationPlan("sample", 80, True))
    assert command_line(cpu) == "python -m warp_ir_dataset.build --config cpu --target-mb 200 --seed 0 --rows-per-shard 500 --validate sample"
    extract = extract_identity(("mujoco_warp",), "cpu", "real", 8, ValidationPlan("sample"), None)

    def stats(*per_config):
        return {"configs": {c: {"metadata": {"identity": sorted(to_json(i) for i in ids)}} for c, ids in per_config}}

    assert build_commands(stats(("cpu", [cpu, extract]), ("cuda", [cuda]))) == [
        "python -m warp_ir_dataset.build --config all --target-mb 200 --seed 0 --rows-per-shard 500 --validate sample --arch sm_80 --ptx",
        "python -m warp_ir_dataset.extract mujoco_warp --config cpu --split real --modules-per-shard 8 --validate sample",
    ]
    other = {**cuda, "seed": 1}  # built differently: one command each
    assert build_commands(stats(("cpu", [cpu]), ("cuda", [other]))) == [command_line(cpu), command_line(other)]
    assert build_commands(stats(("cpu", [cpu]))) == [command_line(cpu)]
    assert json.loads(to_json(cuda)) == cuda


def test_the_behaviour_section_gives_the_measured_figures_and_where_missed_mutants_sit(carded, tmp_path):
    _, _, stats = carded
    sensitivity = {"rows": 3, "mutants": 20, "caught": 15, "share": 0.75, "fresh_draws": 8, "distinguishable": 16,
                   "share_of_distinguishable": 0.9375, "missed_boundary_swaps_alike_on_every_draw": 1,
                   "missed_sites": {"never reached": 2, "reached": 2, "in a helper": 1},
                   "by_kind": {"operator": {"mutants": 20, "caught": 15}}}
    report = {"command": "a 1 MB build", "executable": {"executable": 9, "rows_tried": 10, "lowest_family": ["loops", 0.5]},
              "determinism": {"rows": 9, "second_launch_identical": 9, "relaunch_bit_identical_to_row": 8},
              "trivial_kernels": {"any": 1, "rows": 9, "share_any": 0.111}, "sensitivity": sensitivity}
    (tmp_path / "behaviour.json").write_text(json.dumps({"cpu": report}))
    text = behaviour_section(stats, tmp_path)
    assert "executable (launched, finite outputs) 9 of 10 rows tried (90.0%; lowest family `loops` 50.0%)" in text
    assert "15 of 20 give other outputs or fail to launch (75.0%: operator 15/20)" in text
    assert "of the 5 missed, 2 change code that no thread reaches" in text and "2 change code that runs but whose change no output shows" in text
    assert "1 sit outside the kernel's body" in text and "; 1 of all missed swap a comparison's" in text
    assert "interval" not in text and "lowest families" not in text  # a report from before they were measured
    sensitivity["interval_95"] = [0.6, 0.85]
    sensitivity["by_family"] = {"vectors": {"mutants": 4, "caught": 4}, "funcs": {"mutants": 4, "caught": 3}, "noise": {"mutants": 4, "caught": 4},
                                "loops": {"mutants": 8, "caught": 4}}  # in any order (a report written with sorted keys)
    (tmp_path / "behaviour.json").write_text(json.dumps({"cpu": report}))
    text = behaviour_section(stats, tmp_path)
    assert "(75.0%: operator 15/20) (95% interval, resampling rows: 60.0% to 85.0%); lowest families: `loops` 4/8, `funcs` 3/4, `noise` 4/4;" in text
    assert "vectors" not in text
    assert "were every block run" not in text  # a report from before the estimate
    sensitivity["share_if_every_block_ran"] = 0.8125
    (tmp_path / "behaviour.json").write_text(json.dumps({"cpu": report}))
    assert "were every block run and its mutants caught as often as the reached ones of their kind and site, the share would be about 81.2%" in behaviour_section(stats, tmp_path)
    del sensitivity["missed_sites"]  # a report from before the probe: no sentence about it
    (tmp_path / "behaviour.json").write_text(json.dumps({"cpu": report}))
    assert "missed," not in behaviour_section(stats, tmp_path)
