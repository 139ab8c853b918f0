"""Stage 6: the dataset card (README.md) in the output folder, and the report.

The card's YAML header is :mod:`~warp_ir_dataset.card_metadata`'s, rewritten after every build.

``python -m warp_ir_dataset.card FOLDER [--reports REPORTS]`` writes the whole card: YAML and
prose, with every number computed from the shards (``stats.py``), plus the report
(``dataset_report.md``), the statistics (``dataset_stats.json``) and figures under REPORTS (default ``FOLDER/reports``). The
prose lives in ``dataset_card/*.md`` as ``string.Template`` files.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from string import Template

import click
import pyarrow.parquet as pq

from .card_metadata import card_fields, update_card_metadata, write_file
from .distribution import percent
from .identity import command_line, one_pass, to_json
from .realism import COMMON_SHARE, PRESENT_SHARE
from .write import shard_files

TEMPLATES = Path(__file__).resolve().parents[1] / "dataset_card"
LENGTH_LABELS = ("python_source", "forward_code", "backward_code", "helper_code", "ptx")
EXAMPLE_LINES = 40


# -- tables and sentences, all from the stats --------------------------------------------------
def _licence(report: dict, package: str) -> str:
    """A package folder's licences, and where the extraction read them (reports since issue 24)."""
    licences = ", ".join(report.get("licenses", {}).get(package, [])) or "-"
    where = "; ".join(report.get("license_sources", {}).get(package, []))
    return f"{licences} ({where})" if where and licences != "-" else licences


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _configs(stats: dict) -> dict[str, dict]:
    return stats["configs"]


def overview_table(stats: dict) -> str:
    rows = []
    for config, s in _configs(stats).items():
        t = s["total"]
        rows.append([
            f"`{config}`", t["rows"], *(s["splits"].get(sp, {}).get("rows", 0) for sp in ("train", "test")),
            t["parquet_files"], _mb(t["parquet_bytes"]), _mb(t["text_bytes_total"]), len(t["rows_per_family"]),
        ])
    return _table(["config", "rows", "train", "test", "Parquet files", "Parquet MB", "text MB", "families"], rows)


def key_figures_table(stats: dict) -> str:
    header = ["figure"] + [f"`{c}`" for c in _configs(stats)]
    pick = [
        ("exact duplicate `python_source` rows", lambda s: s["duplicates"]["exact_duplicate_rows"]),
        ("rows with a distinct structural fingerprint", lambda s: percent(s["structure"]["distinct_fingerprint_share"])),
        ("largest structure's share of rows", lambda s: percent(s["structure"]["largest_fingerprint_share"])),
        ("rows with a near-duplicate (Jaccard ≥ {})".format(_threshold(stats)), lambda s: percent(s["duplicates"]["near_duplicate_share"])),
        ("test rows with a near-duplicate in train", lambda s: s["duplicates"]["test_rows_with_near_duplicate_in_train"]),
        ("kernel-callable Warp builtins used", lambda s: f"{percent(s['builtins']['coverage'])} ({s['builtins']['distinct_used']} of {s['builtins']['kernel_callable']})"),
        ("fingerprints shared between train and test", lambda s: s["structure"]["fingerprints_shared_train_test"]),
    ]
    return _table(header, [[label] + [fn(s) for s in _configs(stats).values()] for label, fn in pick])


def _threshold(stats: dict) -> float:
    return next(iter(_configs(stats).values()))["duplicates"]["threshold"]


def families_table(stats: dict) -> str:
    configs = _configs(stats)
    families = sorted({f for s in configs.values() for f in s["total"]["rows_per_family"]})
    rows = [[f"`{f}`"] + [s["total"]["rows_per_family"].get(f, 0) for s in configs.values()] for f in families]
    return _table(["family"] + [f"`{c}`" for c in configs], rows)


def lengths_table(stats: dict) -> str:
    rows = []
    for config, s in _configs(stats).items():
        for column, L in _lengths(s):
            ln, by = L["lines"], L["bytes"]
            rows.append([f"`{config}`", f"`{column}`", L["present"] - L["empty"], f"{ln['p50']} / {ln['p90']} / {ln['p99']} / {ln['max']}", ln["mean"], by["p50"], by["max"]])
    return _table(["config", "column", "non-empty", "lines p50 / p90 / p99 / max", "mean lines", "bytes p50", "bytes max"], rows)


def _lengths(s: dict) -> list[tuple[str, dict]]:
    """Length statistics of the columns a config has (not all null), in schema order."""
    return [(c, s["total"]["lengths"][c]) for c in LENGTH_LABELS if s["total"]["lengths"][c]["present"]]


def text_table(stats: dict) -> str:
    configs = _configs(stats)
    columns = next(iter(configs.values()))["total"]["text_bytes"]
    rows = [[f"`{c}`"] + [_mb(s["total"]["text_bytes"][c]) for s in configs.values()] for c in columns]
    return _table(["column"] + [f"`{c}` MB" for c in configs], rows)


def validation_table(stats: dict) -> str:
    rows = []
    for config, s in _configs(stats).items():
        v = s["total"]["validation"]
        reasons = ", ".join(f"{k}: {n}" for k, n in s["rejects"]["by_reason"].items()) or "-"
        rows.append([f"`{config}`", v.get("executed", 0), v.get("compiled", 0), v.get("unchecked", 0), s["rejects"]["rows"], reasons])
    return "Validation with Warp's toolchain (executed rows were compiled, then launched):\n\n" + _table(
        ["config", "executed", "compiled only", "unchecked", "rejected (not in the data)", "reject reasons"], rows
    )


def behaviour_section(stats: dict, reports: Path | None = None) -> str:
    """Which rows carry their behaviour, what it costs, and (from ``REPORTS/behaviour.json``,
    written by ``benchmarks/behaviour.py``) whether their inputs catch wrong code."""
    rows = []
    for config, s in _configs(stats).items():
        for split, part in s["splits"].items():
            b = part.get("behaviour")
            if not b or not part["rows"] or split == "real":
                continue
            per_row = f"{b['values'] / b['executed']:.0f} numbers ({8 * b['values'] / b['executed'] / 1000:.1f} kB before compression)" if b["executed"] else "-"
            rows.append([f"`{config}`", split, part["rows"], b["executed"], percent(b["executed"] / part["rows"]), per_row])
    out = [
        "Every `test` row and every row the build's validation selected was launched on the cpu, on seeded inputs made "
        "to fit its launch contract; those rows (`validation` = `executed`) store the contract, the inputs, the outputs "
        "and, with a backward pass, the seeded output gradients and the input gradients of one adjoint launch. "
        "`python -m warp_ir_dataset.run FOLDER --config cpu` launches them again from the rows alone and compares.",
        "",
        _table(["config", "split", "rows", "executed", "share", "stored per executed row"], rows),
    ]
    measured = None if reports is None else reports / "behaviour.json"
    if measured is not None and measured.exists():
        report = json.loads(measured.read_text(encoding="utf-8"))
        lines = []
        for config, r in sorted(report.items()):
            e, t, sens, d = r["executable"], r["trivial_kernels"], r["sensitivity"], r["determinism"]
            low = e["lowest_family"]
            kinds = ", ".join(f"{k} {v['caught']}/{v['mutants']}" for k, v in sens["by_kind"].items())
            lines.append(
                f"- `{config}` ({r['command']}): executable (launched, finite outputs) {e['executable']} of {e['rows_tried']} rows tried "
                f"({percent(e['executable'] / e['rows_tried'])}; lowest family `{low[0]}` {percent(low[1])}); launched again: {d['second_launch_identical']} of {d['rows']} "
                f"bit-identical on a second launch, {d['relaunch_bit_identical_to_row']} bit-identical to the row; a kernel that does "
                f"nothing, writes zeros or copies an input would pass {t['any']} of {t['rows']} rows ({percent(t['share_any'])}); "
                f"mutants of {sens['rows']} rows' sources whose generated code differs: {sens['caught']} of {sens['mutants']} "
                f"give other outputs or fail to launch ({percent(sens['share'])}: {kinds})"
                + _spread_sentence(sens)
                + (f"; of the {sens['distinguishable']} that some of {sens['fresh_draws']} fresh draws of inputs tells apart from the original "
                   f"(the rest change code whose value never reaches an output), {percent(sens['share_of_distinguishable'])}" if "distinguishable" in sens else "")
                + _missed_sentence(sens) + "."
            )
        out += ["", "Do the inputs catch wrong code? Measured with `benchmarks/behaviour.py` on builds with `--validate all`:", "", *lines]
    return "\n".join(out)


def _spread_sentence(sensitivity: dict) -> str:
    """The share's interval over rows and its lowest families, where the measurement has them."""
    out = ""
    if "interval_95" in sensitivity:
        low, high = sensitivity["interval_95"]
        out += f" (95% interval, resampling rows: {percent(low)} to {percent(high)})"
    families = sensitivity.get("by_family")
    if families:
        lowest = sorted(families.items(), key=lambda kv: (kv[1]["caught"] / max(kv[1]["mutants"], 1), kv[0]))[:3]
        shown = [f"`{name}` {f['caught']}/{f['mutants']}" for name, f in lowest]
        out += f"; lowest families: {', '.join(shown)}"
    return out


def _missed_sentence(sensitivity: dict) -> str:
    """Where the mutants the inputs missed sit, where ``benchmarks/behaviour.py`` probed it."""
    sites = sensitivity.get("missed_sites")
    if not sites:
        return ""
    missed = sensitivity["mutants"] - sensitivity["caught"]
    return (f"; of the {missed} missed, {sites.get('never reached', 0)} change code that no thread reaches on the row's inputs "
            f"(behind a branch, loop or early return no thread passes), {sites.get('reached', 0)} change code that runs but whose change "
            f"no output shows, {sites.get('in a helper', 0)} sit outside the kernel's body (`@wp.func` helpers); "
            f"{sensitivity.get('missed_boundary_swaps_alike_on_every_draw', 0)} of all missed swap a comparison's `<` for `<=` where no value "
            f"equals the threshold on any draw"
            + (f"; were every block run and its mutants caught as often as the reached ones of their kind and site, the share would be "
               f"about {percent(sensitivity['share_if_every_block_ran'])}" if "share_if_every_block_ran" in sensitivity else ""))


def builtins_table(stats: dict) -> str:
    configs = _configs(stats)
    first = next(iter(configs.values()))["builtins"]
    if first["by_group"]:
        groups = sorted(first["by_group"])
        rows = [[g, first["by_group"][g]["kernel_callable"]] + [f"{s['builtins']['by_group'][g]['distinct_used']} ({percent(s['builtins']['by_group'][g]['coverage'])})" for s in configs.values()] for g in groups]
        return _table(["Warp builtin group", "kernel-callable"] + [f"used in `{c}`" for c in configs], rows)
    rows = [[f"`{c}`", s["builtins"]["kernel_callable"], s["builtins"]["distinct_used"], percent(s["builtins"]["coverage"])] for c, s in configs.items()]
    return _table(["config", "kernel-callable builtins", "used", "coverage"], rows)


def _meta(stats: dict, key: str) -> list[str]:
    return sorted({v for s in _configs(stats).values() for v in s["metadata"][key]})


def versions_sentence(stats: dict) -> str:
    return (
        f"Warp {', '.join(_meta(stats, 'warp_version'))}, generator version {', '.join(_meta(stats, 'generator_version'))}, "
        f"row schema version {', '.join(_meta(stats, 'schema_version'))}."
    )


def build_commands(stats: dict) -> list[str]:
    """The commands that rebuild the data, from the identities the shards record: one ``--config
    all`` pass for configs made with the same settings (a one-pass build records each config's
    own identity, since its shards equal that config's build alone), builds before extractions."""
    identities = [json.loads(text) for s in _configs(stats).values() for text in s["metadata"]["identity"]]
    merged = one_pass(identities)
    return [command_line(i) for i in sorted(merged, key=lambda i: (i["command"] != "build", i["config"], to_json(i)))]


def limitations(stats: dict) -> str:
    items = []
    for config, s in _configs(stats).items():
        t = s["total"]
        compiled = t["validation"].get("compiled", 0) + t["validation"].get("executed", 0)  # an executed row was compiled first
        items.append(
            f"- `{config}`: {compiled} of {t['rows']} rows ({percent(compiled / t['rows'] if t['rows'] else 0)}) were compiled by "
            f"Warp's toolchain (validate mode: {', '.join(s['metadata']['validate'])}); the others are Warp's code generator "
            "output, not compiled."
        )
        if not t["lengths"]["ptx"]["present"]:
            items.append(f"- `{config}`: no row has PTX (`ptx` is null).")
        b = s["builtins"]
        items.append(f"- `{config}`: the kernels call {b['distinct_used']} of Warp's {b['kernel_callable']} kernel-callable builtins; {len(b['unused'])} are never used.")
    real = _extracted(stats)
    items += [
        "- The kernels of `train` and `test` are synthetic, made by generator families (the `simulation` family "
        "composes them in the shape of solver code: see the realism section); they exercise Warp's code generator, "
        "but what they compute has no meaning."
        + (" The `real` split is real code, but only the kernels that importing its modules registers: kernels "
           "that factories make from run-time arguments are not in it." if real else ""),
        "- Generated code is specific to the Warp version above: other versions emit different code.",
        "- PTX, where present, is NVRTC's output for the architecture in the build command, not machine code (SASS).",
    ]
    return "\n".join(items)


def build_times_section(reports: Path) -> str:
    """The recorded wall times of the production build, from ``REPORTS/build_times.json`` (a list
    of ``{command, wall_seconds, machine}``, written by whoever ran the build): the time is a
    property of the run, not of the data, so it cannot be computed from the shards."""
    path = reports / "build_times.json"
    if not path.exists():
        return "No wall times were recorded for this build (`build_times.json` is absent)."
    import json

    runs = json.loads(path.read_text(encoding="utf-8"))
    rows = [[f"`{r['command']}`", f"{r['wall_seconds'] / 60:.1f} min", r.get("machine", "")] for r in runs]
    return "Recorded wall times:\n\n" + _table(["command", "wall time", "machine"], rows)


def baselines_section(reports: Path, brief: bool = False) -> str:
    """What models that need no training score with ``evaluate``, from ``REPORTS/baselines.json``
    (written by ``benchmarks/baselines.py``): a property of a run of the harness, not of the data."""
    path = reports / "baselines.json"
    if not path.exists():
        return "No baselines were scored for this build (`baselines.json` is absent)."
    from .evaluate import OUTCOMES as outcomes

    report = json.loads(path.read_text(encoding="utf-8"))
    if brief:  # one line per baseline: the report stays short
        columns = sorted({(r["config"], r["task"]) for r in report["results"]})
        passed = {(r["baseline"], r["config"], r["task"]): f"{r['outcomes']['pass']}/{r['candidates']}" for r in report["results"]}
        baselines = list(dict.fromkeys(r["baseline"] for r in report["results"]))
        rows = [[f"`{b}`", *(passed.get((b, c, t), "-") for c, t in columns)] for b in baselines]
        return f"Passed, on {report['rows']}:\n\n" + _table(["baseline", *(f"{c} {t}" for c, t in columns)], rows)
    rows = [[f"`{r['config']}`", r["task"], f"`{r['baseline']}`", r["candidates"], *(r["outcomes"][k] for k in outcomes), percent(r["pass_rate"]),
             "-" if r["candidates_per_second_per_worker"] is None else r["candidates_per_second_per_worker"]] for r in report["results"]]
    commands = "\n".join(report["commands"])
    return (
        "`python -m warp_ir_dataset.evaluate` scores predictions by what their code does (see the README). Baselines "
        "that need no trained model: `nearest` answers with the `train` row whose input is most alike (MinHash over "
        "token shingles), its kernel's names rewritten to the row's; `empty-body` answers with the row's kernel with "
        f"nothing in its body; `reference` is each row's own answer, which must pass. Scored on {report['rows']}, {report['machine']}:\n\n"
        + _table(["config", "task", "baseline", "candidates", *outcomes, "pass rate", "candidates/s per worker"], rows)
        + (f"\n\nSpeed: {report['speed_rows']}." if report.get("speed_rows") else "")
        + f"\n\n```bash\n{commands}\n```"
    )


# -- the worked example ------------------------------------------------------------------------
def find_representative_example(folder: Path, stats: dict) -> dict | None:
    """A representative row for the report: synthetic, executed, with a ``@wp.func`` helper,
    its ``python_source`` nearest the median length of the synthetic rows (ties: smallest id);
    from the config with PTX when a row has it. The same kernel's row of every other config
    comes with it (``other``), so its cpu and cuda code can be shown side by side."""

    configs = _configs(stats)
    with_ptx = [c for c, s in configs.items() if s["total"]["lengths"]["ptx"]["present"]]
    config = (with_ptx or [c for c in ("cuda", "cpu") if c in configs] or list(configs))[0]
    lengths = []
    candidates = []
    columns = ["id", "python_source", "validation", "ptx"]
    for split, paths in shard_files(folder, config).items():
        if split == "real":
            continue
        for path in paths:
            for r in pq.read_table(path, columns=columns).to_pylist():
                lengths.append(len(r["python_source"]))
                candidates.append((r["validation"] == "executed", "@wp.func" in r["python_source"], r["ptx"] is not None or not with_ptx, len(r["python_source"]), r["id"], path))
    if not candidates:
        return None
    median = sorted(lengths)[len(lengths) // 2]
    best = min(candidates, key=lambda c: (not c[2], not c[0], not c[1], abs(c[3] - median), c[4]))
    row = pq.read_table(best[5], filters=[("id", "=", best[4])]).to_pylist()[0]
    row["other"] = {}
    for other in configs:
        if other == config:
            continue
        for path in (p for paths in shard_files(folder, other).values() for p in paths):
            found = pq.read_table(path, filters=[("id", "=", row["id"])]).to_pylist()  # row groups carry id statistics
            if found:
                row["other"][other] = found[0]
                break
    return row


def representative_example_section(row: dict | None) -> str:
    if row is None:
        return "No rows."
    by_device = {row["device"]: row, **{r["device"]: r for r in row["other"].values()}}
    executed = next((r for r in by_device.values() if r["validation"] == "executed"), None)
    parts = [
        f"A kernel of median length with a helper function (id `{row['id']}`, family `{row['family']}`). The Python source, "
        "exactly as stored in `python_source`:",
        f"```python\n{row['python_source'].strip()}\n```",
    ]
    for device in ("cpu", "cuda"):
        if device in by_device:
            parts += [
                f"Warp's generated forward kernel for `{device}` (`forward_code`, first {EXAMPLE_LINES} lines at most). Each Python "
                "statement becomes a few explicit, typed C++ statements; `// <L n>` comments point back to source lines:",
                f"```cpp\n{_excerpt(by_device[device]['forward_code'])}\n```",
            ]
    if by_device.get("cuda", {}).get("ptx"):
        parts += ["NVRTC's PTX for the cuda module (`ptx`, from the kernel's entry point): registers, loads and arithmetic are now "
                  "explicit virtual-ISA instructions:", f"```\n{_excerpt(by_device['cuda']['ptx'], start='.entry', lines=30)}\n```"]
    if executed is not None:
        contract = json.loads(executed["contract"])
        parts += [
            f"What it does: launched over {contract['launch']} on the cpu" + (f" in tiles of {contract['block_dim']} threads" if contract["block_dim"] else "")
            + ", its inputs (first values of each) were",
            "\n".join(f"- {_values_text(r)}" for r in executed["inputs"]),
            "and its outputs",
            "\n".join(f"- {_values_text(r)}" for r in executed["outputs"]),
        ]
        if executed["input_grads"]:
            parts += ["and, from one adjoint launch with seeded output gradients, the gradients of its inputs",
                      "\n".join(f"- {_values_text(r)}" for r in executed["input_grads"])]
    return "\n\n".join(parts)


def _values_text(record: dict, most: int = 6) -> str:
    values = record["floats"] if record["floats"] is not None else record["ints"]
    shown = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values[:most])
    return f"`{record['name']}` {record['dtype']}{record['shape']}: [{shown}{', …' if len(values) > most else ''}]"


def _excerpt(text: str, start: str | None = None, lines: int = EXAMPLE_LINES) -> str:
    all_lines = text.strip("\n").splitlines()
    if start:
        at = next((i for i, line in enumerate(all_lines) if start in line), 0)
        all_lines = all_lines[at:]
    cut = all_lines[:lines]
    more = len(all_lines) - len(cut)
    return "\n".join(cut) + (f"\n// ... {more} more lines" if more else "")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # no version stamp: same data, same bytes
    return buf.getvalue()


def make_figures(stats: dict, out: Path) -> list[str]:
    """PNG figures under ``out``; returns their names (rows per family, lengths per device,
    builtins coverage)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "warp-ir-dataset"
    configs = _configs(stats)
    figures: dict[str, bytes] = {}

    families = sorted({f for s in configs.values() for f in s["total"]["rows_per_family"]})
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(families) + 1.5))
    height = 0.8 / max(len(configs), 1)
    for k, (config, s) in enumerate(configs.items()):
        ax.barh([i + k * height for i in range(len(families))], [s["total"]["rows_per_family"].get(f, 0) for f in families], height, label=config)
    ax.set_yticks([i + height * (len(configs) - 1) / 2 for i in range(len(families))], families)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_title("Rows per generator family")
    ax.legend()
    fig.tight_layout()
    figures["rows_per_family.png"] = _png(fig)
    plt.close(fig)

    for config, s in configs.items():
        present = _lengths(s)
        fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 3), squeeze=False)
        for ax, (column, L) in zip(axes[0], present):
            hist = L["lines"]["log2_histogram"]
            labels = ["0"] + [f"{2 ** (k - 1)}" for k in range(1, len(hist))]
            ax.bar(range(len(hist)), hist)
            ax.set_xticks(range(len(hist)), labels, rotation=90, fontsize=7)
            ax.set_title(f"{column}\np50 {L['lines']['p50']}, max {L['lines']['max']} lines", fontsize=9)
            ax.set_xlabel("lines (bin starts, log2 bins)", fontsize=8)
        axes[0][0].set_ylabel("rows")
        fig.suptitle(f"Lengths in the {config} config", fontsize=10)
        fig.tight_layout()
        figures[f"lengths_{config}.png"] = _png(fig)
        plt.close(fig)

    first = next(iter(configs.values()))["builtins"]
    if first["by_group"]:
        groups = sorted(first["by_group"])
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(groups) + 1.5))
        for k, (config, s) in enumerate(configs.items()):
            ax.barh([i + k * height for i in range(len(groups))], [100 * s["builtins"]["by_group"][g]["coverage"] for g in groups], height, label=config)
        ax.set_yticks([i + height * (len(configs) - 1) / 2 for i in range(len(groups))], groups)
        ax.set_xlabel("% of the group's kernel-callable builtins used")
    else:
        counts: dict[str, int] = {}
        for s in configs.values():
            for name, n in s["builtins"]["rows_per_builtin"].items():
                counts[name] = counts.get(name, 0) + n
        top = sorted(counts, key=lambda n: (-counts[n], n))[:30]
        fig, ax = plt.subplots(figsize=(8, 0.25 * len(top) + 1.5))
        for k, (config, s) in enumerate(configs.items()):
            ax.barh([i + k * height for i in range(len(top))], [s["builtins"]["rows_per_builtin"].get(n, 0) for n in top], height, label=config)
        ax.set_yticks([i + height * (len(configs) - 1) / 2 for i in range(len(top))], top, fontsize=8)
        ax.set_xlabel("rows calling it (most used 30)")
    ax.invert_yaxis()
    ax.set_title("Builtins: " + ", ".join(f"{c} uses {percent(s['builtins']['coverage'])} of {s['builtins']['kernel_callable']}" for c, s in configs.items()), fontsize=9)
    ax.legend()
    fig.tight_layout()
    figures["builtins_coverage.png"] = _png(fig)
    plt.close(fig)

    realism = next((s["realism"] for s in configs.values() if s.get("realism")), None)
    if realism:
        series = {"synthetic": realism["synthetic"]["kernel_lines"]} | {
            k.split(":", 1)[1].replace("all", "all real"): v["kernel_lines"] for k, v in realism["real"].items()
        }
        bins = max(len(d.get("log2_histogram", [])) for d in series.values())
        fig, ax = plt.subplots(figsize=(8, 3.6))
        width = 0.8 / len(series)
        for k, (label, d) in enumerate(series.items()):
            hist = d.get("log2_histogram", []) + [0] * (bins - len(d.get("log2_histogram", [])))
            total = max(sum(hist), 1)
            ax.bar([i + width * k for i in range(bins)], [100 * h / total for h in hist], width, label=f"{label}: p50 {d.get('p50')}, p90 {d.get('p90')}, max {d.get('max')}")
        ax.set_xticks(range(bins), ["0"] + [f"{2 ** (i - 1)}" for i in range(1, bins)], rotation=90, fontsize=7)
        ax.set_xlabel("lines of the @wp.kernel function (bin starts, log2 bins)", fontsize=8)
        ax.set_ylabel("% of kernels")
        ax.set_title("Kernel length: synthetic rows against kernels people wrote", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        figures["kernel_lines_real_vs_synthetic.png"] = _png(fig)
        plt.close(fig)

    extracted = _extracted(stats)
    if extracted:
        fig, axes = plt.subplots(1, len(extracted), figsize=(5 * len(extracted), 3.4), squeeze=False)
        for ax, (config, split, e, lengths) in zip(axes[0], extracted):
            series = {"synthetic (train + test)": configs[config]["total"]["lengths"]["python_source"]["lines"], f"`{split}`": lengths["python_source"]["lines"]}
            bins = max(len(d.get("log2_histogram", [])) for d in series.values())
            for k, (label, d) in enumerate(series.items()):
                hist = d.get("log2_histogram", []) + [0] * (bins - len(d.get("log2_histogram", [])))
                total = max(sum(hist), 1)
                ax.bar([i + 0.4 * k for i in range(bins)], [100 * h / total for h in hist], 0.4, label=f"{label}: p50 {d.get('p50')}, max {d.get('max')}")
            ax.set_xticks(range(bins), ["0"] + [f"{2 ** (i - 1)}" for i in range(1, bins)], rotation=90, fontsize=7)
            ax.set_xlabel("python_source lines (bin starts, log2 bins)", fontsize=8)
            ax.set_ylabel("% of rows")
            ax.set_title(f"{config}: synthetic rows against kernels people wrote", fontsize=9)
            ax.legend(fontsize=7)
        fig.tight_layout()
        figures["lengths_real_vs_synthetic.png"] = _png(fig)
        plt.close(fig)

    for name, data in figures.items():
        write_file(out / name, data)
    return sorted(figures)


# -- the real split ----------------------------------------------------------------------------
def _extracted(stats: dict) -> list[tuple[str, str, dict, dict]]:
    """(config, split, its figures, its length statistics) of every split extracted from code."""
    return [
        (config, split, e, s["splits"][split]["lengths"])
        for config, s in _configs(stats).items()
        for split, e in s.get("extracted_splits", {}).items()
    ]


def real_brief(stats: dict) -> str:
    """The `real` split in a few sentences, for the report (the card has the tables)."""
    extracted = _extracted(stats)
    if not extracted:
        return ""
    parts = []
    for config, split, e, _ in extracted:
        x = e["extraction"] or {}
        parts.append(f"`{config}`: {e['rows']} rows, {e['distinct_fingerprints']} structures, {e['fingerprints_also_in_synthetic_splits']} of them also in "
                     f"train or test" + (f"; {x['reached']} kernels reached by importing, against {x['decorated']} `@wp.kernel` decorations" if x.get("reached") else ""))
    out = ["The `real` split holds kernels from published Warp code (warp-lang's own, mujoco-warp) run through the same code generator, "
           "apart from the size target: " + "; ".join(parts) + "."]
    realism = next((s["realism"] for s in _configs(stats).values() if s.get("realism")), None)
    if realism:
        reals = realism["real"]
        c = reals.get(next((k for k in reals if k.endswith(":all")), next(iter(reals))))["comparison"]
        if c:
            out.append(f"Against it, the synthetic rows use {c['common_features_in_synthetic']} of the {c['common_features']} language features "
                       f"real functions use (missing: {', '.join(c['features_missing']) or 'none'}) and call "
                       f"{percent(c['builtin_coverage_by_calls'])} of real code's builtin calls.")
    out.append("The card has the tables: rows per family, lengths, the language features side by side, the extraction per package.")
    return "\n\n".join(out) + "\n"


def real_section(stats: dict) -> str:
    extracted = _extracted(stats)
    if not extracted:
        return ""
    out = [
        "## The `real` split: kernels people wrote",
        "",
        "Every other row is generated. The `real` split holds kernels from published, permissively "
        "licensed Warp code, run through the same code generator: it measures how a model does on "
        "code people actually wrote, and shows how the synthetic rows differ from it. It is not "
        "counted in the size target, and it is decontaminated by structure: the table gives how many "
        "of its structural fingerprints also occur in `train` or `test`. Each row's `origin` says "
        "where the kernel is (`dist==version:path:line`) and `license` under which licence.",
        "",
        _table(
            ["config", "split", "rows", "structures", "also in train/test", "@wp.kernel written", "kernels reached", "python_source lines p50 / p90 / max"],
            [
                [c, f"`{sp}`", e["rows"], e["distinct_fingerprints"], e["fingerprints_also_in_synthetic_splits"],
                 (e["extraction"] or {}).get("decorated", "?"), (e["extraction"] or {}).get("reached", "?"),
                 "{p50} / {p90} / {max}".format(**L["python_source"]["lines"])]
                for c, sp, e, L in extracted
            ],
        ),
        "",
        "A factory that needs run-time arguments is never called, so its kernels are not reached: "
        "*kernels reached* counts those that importing the modules registered (each overload of a "
        "generic kernel once), against the `@wp.kernel` decorations written in the files.",
        "",
    ]
    config, split, e, _ = extracted[0]
    report = e["extraction"] or {}
    if report.get("by_package"):
        out += [
            f"Per package folder ({config}):",
            "",
            _table(
                ["package folder", "licence", "@wp.kernel written", "reached", "extracted", "kernels rejected", "modules rejected"],
                [
                    [f"`{pkg}`", _licence(report, pkg), c.get("decorated", 0), c.get("reached", 0),
                     c.get("extracted", 0), c.get("kernels_rejected", 0), c.get("modules_rejected", 0)]
                    for pkg, c in report["by_package"].items()
                ],
            ),
            "",
            "Rejected modules by reason: " + (", ".join(f"{k} {v}" for k, v in report.get("module_rejects", {}).items()) or "none")
            + "; rejected kernels by reason: " + (", ".join(f"{k} {v}" for k, v in report.get("kernel_rejects", {}).items()) or "none") + ".",
            "",
        ]
    return "\n".join(out)


def _density_table(syn: dict, reals: dict, keys: list[str], label) -> list[str]:
    """Constructs per 100 statements, synthetic beside real."""
    return [
        "Constructs per 100 statements of function bodies (real functions once each; synthetic: the rows of the feature sample):",
        "",
        _table(["construct", "synthetic"] + [label(k) for k in keys],
               [[name, f"{value:.1f}"] + [f"{reals[k]['per_100_statements'][name]:.1f}" for k in keys] for name, value in syn["per_100_statements"].items()]),
        "",
    ]


def realism_section(stats: dict) -> str:
    """Synthetic rows against the real split: features, lengths, helpers, builtins."""
    config, r = next(((c, s["realism"]) for c, s in _configs(stats).items() if s.get("realism")), (None, None))
    if r is None:
        return ""
    syn, reals = r["synthetic"], r["real"]
    keys = list(reals)
    label = lambda k: f"`{k.split(':', 1)[1]}`" if k.split(":", 1)[1] != "all" else "all real"  # noqa: E731
    out = [
        "## Realism: synthetic rows against kernels people wrote",
        "",
        f"Measured on the `{config}` config from `python_source` alone (Python's `ast`): real functions are "
        "counted once each (kernels and `@wp.func`s), synthetic figures are shares of rows (the row's kernel "
        f"and its helpers; language features on an even sample of {syn['functions']} rows).",
        "",
        _table(
            ["", "synthetic"] + [label(k) for k in keys],
            [
                [name, syn[key].get("p50", "-") if isinstance(syn[key], dict) else percent(syn[key])]
                + [(reals[k][key].get("p50", "-") if isinstance(reals[k][key], dict) else percent(reals[k][key])) for k in keys]
                for name, key in (("kernel lines, p50", "kernel_lines"), ("@wp.func lines, p50", "func_lines"), ("kernel arguments, p50", "kernel_args"), ("kernel statements, p50", "kernel_statements"), ("kernels calling a user @wp.func", "kernels_calling_a_user_func"), ("kernels taking a struct", "kernels_taking_a_struct"))
            ]
            + [
                [f"kernel lines, {p}", syn["kernel_lines"].get(p, "-")] + [reals[k]["kernel_lines"].get(p, "-") for k in keys]
                for p in ("p90", "p99", "max")
            ],
        ),
        "",
        *_density_table(syn, reals, keys, label),
        "Language features (share of real functions using each, share of synthetic rows):",
        "",
        _table(
            ["feature", "synthetic rows"] + [f"{label(k)} functions" for k in keys],
            [[name, percent(syn["feature_share"][name])] + [percent(reals[k]["feature_share"][name]) for k in keys] for name in syn["feature_share"]],
        ),
        "",
    ]
    for k in keys:
        c = reals[k]["comparison"]
        out.append(
            f"- Against {label(k)}: {c['common_features_in_synthetic']} of the {c['common_features']} features used by at least {percent(COMMON_SHARE)} of "
            f"real functions appear in at least {percent(PRESENT_SHARE)} of synthetic rows ({percent(c['feature_coverage'])}); missing: "
            f"{', '.join(c['features_missing']) or 'none'}. The synthetic rows call {c['real_builtins_in_synthetic']} of the "
            f"{c['real_builtins']} builtins real code calls ({percent(c['builtin_coverage'])}; {percent(c['builtin_coverage_by_calls'])} "
            "weighted by the real rows calling them)."
        )
    return "\n".join(out) + "\n"


# -- putting it together -----------------------------------------------------------------------
def _render(template: str, values: dict[str, str]) -> str:
    return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def _values(stats: dict) -> dict[str, str]:
    first = next(iter(_configs(stats).values()))["duplicates"]
    return {
        "overview_table": overview_table(stats),
        "key_figures_table": key_figures_table(stats),
        "families_table": families_table(stats),
        "lengths_table": lengths_table(stats),
        "text_table": text_table(stats),
        "validation_table": validation_table(stats),
        "builtins_table": builtins_table(stats),
        "versions_sentence": versions_sentence(stats),
        "build_commands": "```bash\n" + "\n".join(build_commands(stats)) + "\n```",
        "schema_version": ", ".join(_meta(stats, "schema_version")),
        "threshold": str(first["threshold"]),
        "num_perm": str(first["num_perm"]),
        "shingle": str(first["shingle_tokens"]),
        "limitations": limitations(stats),
        "real_section": real_section(stats) + "\n" + realism_section(stats),
        "behaviour_section": behaviour_section(stats),
    }


def write_card(folder: Path, reports: Path, workers: int | None = None, show_progress: bool = False) -> dict:
    from .stats import compute_stats, dumps

    stats = compute_stats(folder, workers=workers, show_progress=show_progress)
    values = _values(stats) | {"behaviour_section": behaviour_section(stats, reports), "baselines_section": baselines_section(reports)}
    update_card_metadata(folder, body=_render("card_template.md", values), fields=card_fields(stats))

    figures = make_figures(stats, reports / "figures")
    rows = {c: s["total"]["rows"] for c, s in _configs(stats).items()}
    values |= {
        "headline": "This dataset pairs synthetic NVIDIA Warp kernels with the code Warp generates for them: "
        + ", ".join(f"{n} rows in the `{c}` config" for c, n in rows.items())
        + f". {versions_sentence(stats)}",
        "example": representative_example_section(find_representative_example(folder, stats)),
        "real_brief": real_brief(stats),
        "length_figures": "\n\n".join(f"![lengths {n[8:-4]}](figures/{n})" for n in figures if n.startswith("lengths_")),
        "build_times": build_times_section(reports),
        "baselines_brief": baselines_section(reports, brief=True),
        "reproduce": "\n".join(build_commands(stats) + ["python -m warp_ir_dataset.stats data/production", "python -m warp_ir_dataset.card data/production --reports reports"]),
    }
    write_file(reports / "dataset_report.md", _render("report_template.md", values).encode())
    write_file(reports / "dataset_stats.json", dumps(stats).encode())
    return stats


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--reports", type=click.Path(path_type=Path), default=None,
              help="Where the report, the statistics JSON and the figures go [default: FOLDER/reports]. The "
                   "repository's reports/ describes its production build: write there only for that build.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes for the statistics [default: cores, at most 8].")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def main(folder: Path, reports: Path | None, workers: int | None, quiet: bool) -> None:
    """Write FOLDER/README.md (the dataset card) and the report, from the shards in FOLDER."""
    reports = reports if reports is not None else folder / "reports"
    if folder.is_dir():  # a folder the report cannot go to fails before minutes of statistics
        (reports / "figures").mkdir(parents=True, exist_ok=True)
    stats = write_card(folder, reports, workers, show_progress=not quiet)
    rows = ", ".join(f"{c} {s['total']['rows']} rows" for c, s in stats["configs"].items())
    click.echo(f"card: {folder / 'README.md'} ({rows}); report: {reports / 'dataset_report.md'}")


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "card")
