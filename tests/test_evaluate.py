"""``evaluate`` scores predictions by what their code does, and cannot be fooled: the rows' own
code passes, wrong code in known ways fails, hostile code fails alone."""
from __future__ import annotations

import ast
import json
import re

import pyarrow.parquet as pq
import pytest

from helpers import ROOT, run_module

from warp_ir_dataset.evaluate import OUTCOMES, Candidate, evaluate, markdown, normalized, summarize

SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    # the committed sample was built with --validate all: every train row was launched
    table = pq.read_table(SAMPLES / "cpu" / "train-00000.parquet").to_pylist()
    return [r for r in table if r["validation"] == "executed" and r["input_grads"]][:5]


def _kernel_def(tree: ast.Module) -> ast.FunctionDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and any("kernel" in ast.unparse(d) for d in n.decorator_list))


def _with_body(source: str, body: str) -> str:
    tree = ast.parse(source)
    _kernel_def(tree).body = ast.parse(body).body
    return ast.unparse(tree)


def test_the_rows_own_code_passes_both_tasks(rows):
    for task, candidates in (
        ("compile", [Candidate(r, r["forward_code"], r["backward_code"]) for r in rows]),
        ("decompile", [Candidate(r, r["python_source"]) for r in rows]),
    ):
        outcomes = evaluate(task, "cpu", candidates, workers=2)
        assert [o["outcome"] for o in outcomes] == ["pass"] * len(rows), (task, outcomes)
        assert all(all(v is True for v in o["checks"].values()) for o in outcomes), (task, outcomes)


def test_wrong_and_hostile_python_fails_each_alone_and_the_run_finishes(rows):
    r, other = rows[0], rows[1]
    tid = next(line.split("=")[0].strip() for line in r["python_source"].splitlines() if "wp.tid()" in line)
    wrong = {
        "does nothing": _with_body(r["python_source"], "pass"),
        "another row's kernel": other["python_source"],
        "not python": "def (",
        "crashes": "import os\nos._exit(3)\n",
        "allocates without bound": "x = bytearray(1 << 40)\n",
        "hangs": _with_body(r["python_source"], f"{tid} = wp.tid()\nwhile {tid.split(',')[0]} >= 0:\n    pass"),
    }
    candidates = [Candidate(r, source) for source in wrong.values()] + [Candidate(r, r["python_source"])]
    outcomes = evaluate("decompile", "cpu", candidates, timeout=20)
    got = dict(zip(wrong, (o["outcome"] for o in outcomes)))
    assert got == {"does nothing": "mismatch", "another row's kernel": "runtime_error", "not python": "parse_fail", "crashes": "runtime_error",
                   "allocates without bound": "compile_fail", "hangs": "timeout"}, outcomes
    assert outcomes[-1]["outcome"] == "pass"  # the right answer after all of them still passes


def test_a_kernel_whose_launch_builds_warps_own_kernels_too_passes_with_its_own_code():
    # A Volume (or Mesh) built for the launch compiles Warp's own kernels in modules of their
    # own: the predicted code replaces the row's kernel only, never looked for in those.
    row = next(r for r in pq.read_table(SAMPLES / "cpu" / "train-00000.parquet").to_pylist() if r["family"] == "volumes" and r["validation"] == "executed")
    (outcome,) = evaluate("compile", "cpu", [Candidate(row, row["forward_code"], row["backward_code"])])
    assert outcome["outcome"] == "pass", outcome


def test_wrong_generated_code_fails(rows):
    r = next(r for r in rows if "wp::add(" in r["forward_code"])
    body_start = r["forward_code"].index("{", r["forward_code"].index("_cpu_kernel_forward("))
    candidates = {
        "does nothing": r["forward_code"][: body_start + 1] + "\n}\n",
        "a mutant (add for sub)": r["forward_code"].replace("wp::add(", "wp::sub("),
        "another row's code": rows[1]["forward_code"],
        "not C++": "garbage {",
    }
    outcomes = evaluate("compile", "cpu", [Candidate(r, c) for c in candidates.values()])
    got = dict(zip(candidates, (o["outcome"] for o in outcomes)))
    assert got == {"does nothing": "mismatch", "a mutant (add for sub)": "mismatch",
                   "another row's code": "compile_fail", "not C++": "compile_fail"}, outcomes
    assert outcomes[0]["checks"]["compiles"] and not outcomes[0]["checks"]["outputs"]


def test_cuda_code_is_compiled_with_nvrtc_where_no_gpu_can_run_it():
    from warp_ir_dataset import _warp

    if _warp.cuda_available():
        pytest.skip("a GPU runs cuda candidates; this checks the machine without one")  # the GPU path is run's differential test
    row = next(r for r in pq.read_table(SAMPLES / "cuda" / "train-00000.parquet").to_pylist() if r["validation"] == "executed")
    right, broken = evaluate("compile", "cuda", [Candidate(row, row["forward_code"]), Candidate(row, row["forward_code"].replace(";", "", 3))])
    assert right["outcome"] == "pass" and right["checks"]["compiles"] and right["checks"]["runs"] is None and "NVRTC" in right["detail"]
    assert broken["outcome"] == "compile_fail"


def test_cuda_code_runs_on_a_gpu_against_the_outputs_recorded_on_the_cpu():
    from warp_ir_dataset import _warp

    if not _warp.cuda_available():
        pytest.skip("needs a GPU: cuda candidates are launched there (without one, NVRTC compiles them: the test above)")
    row = next(r for r in pq.read_table(SAMPLES / "cuda" / "train-00000.parquet").to_pylist() if r["validation"] == "executed")
    zeros = _with_body(row["python_source"], "pass")
    right, broken, empty = evaluate("compile", "cuda", [Candidate(row, row["forward_code"]), Candidate(row, row["forward_code"].replace(";", "", 3))])[:2] + \
        evaluate("decompile", "cuda", [Candidate(row, zeros)])
    assert right["outcome"] == "pass" and right["checks"]["runs"] and right["checks"]["outputs"], right
    assert broken["outcome"] == "compile_fail"
    assert empty["outcome"] != "pass"


def test_rows_without_recorded_behaviour_are_scored_on_their_code():
    # the real split's rows are not executed: a candidate passes when its code is the row's
    real = pq.read_table(SAMPLES / "cpu" / "real-00000.parquet").to_pylist()[:2]
    right = evaluate("decompile", "cpu", [Candidate(r, r["python_source"]) for r in real])
    wrong = evaluate("compile", "cpu", [Candidate(real[0], real[1]["forward_code"])])
    assert [o["outcome"] for o in right] == ["pass", "pass"] and all(o["checks"]["code"] and o["checks"]["outputs"] is None for o in right)
    assert wrong[0]["outcome"] != "pass"


def test_normalizing_drops_comments_line_directives_space_and_name_hashes_only():
    code = 'static void k_96ca4551_cpu_kernel_forward(int a) {\n    // a = b + c   <L 3>\n#line 12 "x.py"\n    var_1 = wp::add(var_0, a);\n}\n'
    other = "static void k_0badcafe_cpu_kernel_forward(int a) { var_1 = wp::add(var_0, a); }"
    assert normalized(code) == normalized(other)
    assert normalized(code) != normalized(other.replace("add", "sub"))


def test_the_command_resumes_writes_a_summary_and_refuses_bad_input_in_one_line(rows, tmp_path):
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "prediction": r["python_source"]}) + "\n" for r in rows[:3]))
    out = tmp_path / "o.jsonl"
    first = evaluate("decompile", "cpu", [Candidate(rows[0], rows[0]["python_source"])])
    out.write_text(json.dumps(first[0]) + "\n")  # an evaluation stopped after one candidate
    proc = run_module("warp_ir_dataset.evaluate", str(predictions), "--data", str(SAMPLES), "--config", "cpu", "--split", "train",
                      "--task", "decompile", "--out", str(out), "--isolate", "--quiet", check=True)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(o["id"] for o in lines) == sorted(r["id"] for r in rows[:3])  # the first was not scored again
    summary = json.loads((tmp_path / "o.summary.json").read_text())
    assert summary["outcomes"]["pass"] == 3 and summary["pass_rate"] == 1.0
    assert re.search(r"\| all \| 3 \| 3 \|", proc.stdout)
    predictions.write_text('{"id": 3}\n')
    bad = run_module("warp_ir_dataset.evaluate", str(predictions), "--data", str(SAMPLES), "--config", "cpu", "--task", "decompile", check=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "needs a string 'id'" in bad.stderr
    predictions.write_text("")
    bad = run_module("warp_ir_dataset.evaluate", str(predictions), "--data", str(SAMPLES), "--config", "cpu", "--task", "decompile", check=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "no predictions in it" in bad.stderr
    assert not list(tmp_path.glob("p.*.jsonl"))  # nothing scored, nothing written


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_an_out_that_cannot_be_written_is_one_line_before_any_work(command, rows, tmp_path):
    (tmp_path / "a_file").write_text("")
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"id": rows[0]["id"], "prediction": rows[0]["python_source"]}) + "\n")
    common = ["--data", str(SAMPLES), "--config", "cpu", "--split", "train", "--task", "decompile"]
    for out, why in ((tmp_path / "a_file" / "x.jsonl", "is not a folder"), (tmp_path, "is a folder")):
        args = [*common, "--with", "reference"] if command == "predict" else [str(predictions), *common]
        proc = run_module(f"warp_ir_dataset.{command}", *args, "--out", str(out))
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert f"{command}: error: --out" in proc.stderr and why in proc.stderr and "internal error" not in proc.stderr
        assert proc.stdout == ""  # refused before a prediction was made or a candidate launched


def right_answer(row: dict, task: str) -> dict:
    """A model that knows the answer: a plug-in for ``predict --with tests.test_evaluate:right_answer``."""
    return {"prediction": row["forward_code"], "backward": row["backward_code"]} if task == "compile" else {"prediction": row["python_source"]}


def test_predict_makes_baselines_and_plugs_in_a_model(tmp_path):
    def predict(task: str, with_: str, split: str = "train") -> list[dict]:
        out = tmp_path / f"{task}-{with_.replace(':', '_')}.jsonl"
        run_module("warp_ir_dataset.predict", "--data", str(SAMPLES), "--config", "cpu", "--split", split, "--task", task, "--with", with_,
                   "--limit", "3", "--out", str(out), check=True, env_extra={"PYTHONPATH": str(ROOT / "tests")})
        return [json.loads(line) for line in out.read_text().splitlines()]

    rows = {r["id"]: r for r in pq.read_table(SAMPLES / "cpu" / "train-00000.parquet").to_pylist()}
    for task in ("compile", "decompile"):
        model = predict(task, "test_evaluate:right_answer")
        outcomes = evaluate(task, "cpu", [Candidate(rows[p["id"]], p["prediction"], p.get("backward")) for p in model])
        assert [o["outcome"] for o in outcomes] == ["pass"] * 3
        assert predict(task, "reference") == model  # each row's own answer: what the harness must pass
        empty = predict(task, "empty-body")
        outcomes = evaluate(task, "cpu", [Candidate(rows[p["id"]], p["prediction"], p.get("backward")) for p in empty])
        assert "pass" not in [o["outcome"] for o in outcomes], outcomes  # these rows' outputs depend on their kernels' work
        if task == "compile":
            assert any(o["checks"]["compiles"] for o in outcomes)  # Warp's code for the kernel, emptied: mostly it compiles
    nearest = predict("decompile", "nearest", split="real")  # rows of another split than the train rows it searches
    assert nearest and all("@wp.kernel" in p["prediction"] for p in nearest)
    bad = run_module("warp_ir_dataset.predict", "--data", str(SAMPLES), "--config", "cpu", "--split", "train", "--task", "compile", "--with", "nosuchmodel", "--out", str(tmp_path / "x"))
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "MODULE:FUNCTION" in bad.stderr


LANE_TILE = """import warp as wp


@wp.kernel
def lane_sum(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    v = x[i] * 2.0
    lanes = wp.tile(v)
    out[i] = wp.tile_extract(wp.tile_sum(lanes), 0)
"""


def test_a_tile_as_wide_as_the_block_compiles_in_the_cpu_build_whose_block_is_one_thread_and_wrong_code_says_why():
    # A row's code declares a tile of one value per thread as wide as the module's block (256);
    # the cpu launch builds for a block of 1, where that declaration did not compile (4 tile rows
    # of the production cpu test split failed with their own code). Code the compiler refuses
    # says what the compiler said (Warp's exception says "error code -1").
    from warp_ir_dataset.codegen import kernel_row
    from warp_ir_dataset.execute import CompiledOnly, Failure, Request, run_kernels
    from warp_ir_dataset.generate import KernelSpec

    row, _ = kernel_row(KernelSpec(None, "tile_reduce", "lane_sum", LANE_TILE), "cpu", with_module=False)
    assert "tile_shape_t<256>" in row["forward_code"]
    own = (("forward", row["forward_code"], row["forward_code"]),)
    wrong = (("forward", row["forward_code"], row["forward_code"].replace("wp::tile_sum(", "wp::tile_sum_undefined(")),)
    results = run_kernels([Request(LANE_TILE, "lane_sum", 0, f"wirds_lane_{n}", replace_code=s, launch=False) for n, s in enumerate((own, wrong))],
                          untrusted=True)
    assert isinstance(results[0], CompiledOnly), results[0]
    assert isinstance(results[1], Failure) and results[1].reason == "clang-error"
    assert "tile_sum_undefined" in results[1].message and "error:" in results[1].message
    assert "/" not in results[1].message.partition(": ")[2]  # the compiler's files by name, not this machine's paths


def test_the_table_gives_each_family_its_outcomes_and_names_checks_no_candidate_had():
    outcomes = [{"family": "loops", "outcome": "pass", "checks": {"exact": True, "runs": None}},
                {"family": "loops", "outcome": "mismatch", "checks": {"exact": False, "runs": None}},
                {"family": "noise", "outcome": "timeout", "checks": {"exact": True, "runs": None}}]
    summary = summarize(outcomes, "compile")
    assert summary["by_family"]["loops"]["outcomes"] == {k: {"pass": 1, "mismatch": 1}.get(k, 0) for k in OUTCOMES}
    table = markdown(summary)
    row = {k: {"pass": 1, "mismatch": 1}.get(k, 0) for k in OUTCOMES}
    assert f"| loops | 2 | {' | '.join(str(row[k]) for k in OUTCOMES)} | 50.0% |" in table
    assert "not checked for any candidate: " in table and "runs" in table.split("not checked for any candidate: ")[1]
    assert "exact 66.7%" in table


def test_isolated_candidates_cannot_change_what_the_next_one_runs_with(rows):
    # A decompile candidate is Python that runs when imported: this one makes every later launch
    # in its process do nothing. Sharing a process (the default batch), the next candidate, the
    # row's own source, fails; each in a process of its own, it passes.
    tamper = rows[0]["python_source"] + "\nwp.launch = lambda *args, **kwargs: None\n"
    candidates = [Candidate(rows[0], tamper), Candidate(rows[1], rows[1]["python_source"])]
    shared = evaluate("decompile", "cpu", candidates)
    isolated = evaluate("decompile", "cpu", candidates, batch=1)
    assert shared[1]["outcome"] != "pass"
    assert isolated[1]["outcome"] == "pass" and isolated[0]["outcome"] != "pass"


def test_a_candidate_that_builds_but_fails_to_launch_still_has_its_code_compared(rows):
    tree = ast.parse(rows[0]["python_source"])
    kernel = _kernel_def(tree)
    kernel.args.args.append(ast.arg("extra", ast.Name("float")))  # the row's inputs do not fill it
    outcome = evaluate("decompile", "cpu", [Candidate(rows[0], ast.unparse(tree))])[0]
    assert outcome["outcome"] in ("runtime_error", "compile_fail"), outcome
    assert outcome["checks"]["builds"] is True and outcome["checks"]["code"] is False, outcome["checks"]
