"""The package's modules import each other without a circle: each stage, and each command, can be
read (and changed) knowing only the modules below it."""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from helpers import ROOT

PACKAGE = ROOT / "warp_ir_dataset"


def _imports() -> dict[str, set[str]]:
    """Module → the package's modules it imports (at the top or inside a function)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    graph = {}
    for path in PACKAGE.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                found.update(n for n in names if n in modules)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("warp_ir_dataset."):
                found.add(node.module.split(".")[1])
        graph[path.stem] = found - {path.stem}
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = _imports()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"import circle: {' -> '.join(e.args[1])}") from None
    # the stages sit below the commands that run them
    for low, high in [("_warp", "codegen"), ("codegen", "pipeline"), ("pipeline", "engines"), ("engines", "build"),
                      ("engines", "extract"), ("engines", "driver"), ("driver", "build"), ("driver", "extract"), ("sources", "pipeline"), ("checks", "build"), ("checks", "extract"), ("write", "pipeline")]:
        assert order.index(low) < order.index(high), (low, high)
    assert "build" not in graph["extract"] and "extract" not in graph["pipeline"] and "stats" not in graph["realism"]
    # what reading rows back and comparing a relaunch means sits below the commands that share it
    assert all("run" not in graph[command] for command in ("evaluate", "predict")) and "replay" in graph["run"]
    # a build writes the card's YAML header without the card command's prose, figures and report
    assert "card" not in graph["build"] and "card" not in graph["extract"] and "card_metadata" in graph["build"]
