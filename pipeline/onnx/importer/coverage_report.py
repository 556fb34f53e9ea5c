"""The coverage report (docs/onnx-coverage.md) and the floor check CI runs."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from pipeline.core import atomic
from pipeline.onnx.importer.coverage_scope import ATOL, RTOL, SCOPE


def write_report(results, summary: dict, out: Path) -> None:
    import onnx

    per_op: dict[str, list] = defaultdict(list)
    for r in results:
        per_op[r.ops].append(r)
    lines = [
        "# ONNX import coverage",
        "",
        f"Measured by `python -m pipeline.onnx.importer.coverage --out docs/onnx-coverage.md` over the "
        f"{summary['tests']} backend node tests shipped in onnx {onnx.__version__}: each test is imported, run "
        f"on MXNet CPU and compared with its expected outputs (rtol {RTOL:g}, atol {ATOL:g}).",
        "",
        "## Totals",
        "",
        "| | passed | tests | % |",
        "|---|---:|---:|---:|",
        f"| in scope (vision and NLP inference ops) | {summary['in_scope_passed']} | {summary['in_scope']} | "
        f"{summary['in_scope_pct']} |",
        f"| all non-excluded tests | {summary['passed']} | {summary['considered']} | {summary['passed_pct']} |",
        f"| excluded (see categories) | – | {summary['excluded']} | – |",
        "",
        f"{summary['passed_with_frozen_inputs']} of the passes needed a graph input frozen to the test's value: "
        "ONNX's tests feed values MXNet needs at conversion time (axes, target shapes, pads, RNN weights) as "
        "graph inputs, where exported models carry them as initializers or Constants. The runner freezes only "
        "the input the importer names in an ONNX105 error (or the integer inputs that value is computed from), "
        "and says so in the test's row. Without "
        f"those, {summary['in_scope_pct_without_frozen']}% of in-scope and {summary['passed_pct_without_frozen']}% "
        "of all non-excluded tests pass.",
        "",
        "## Scope",
        "",
        "A test is in scope when every op of its model (of the unexpanded model, for `_expanded` "
        "tests) is one of: " + ", ".join(f"`{o}`" for o in sorted(SCOPE)) + ".",
        "",
        "Excluded categories, never counted: bf16, float8, float4, int4, string and complex tensors (MXNet "
        "1.9.1 has no such types); training ops and `training` tests; random ops; sequence and optional "
        "values; control flow (If/Loop/Scan subgraphs); non-default domains (ai.onnx.ml, preview).",
        "",
        "## Per op",
        "",
        "| op(s) | in scope | passed | tests | failing or excluded tests (reason) |",
        "|---|:---:|---:|---:|---|",
    ]
    for ops in sorted(per_op):
        rows = per_op[ops]
        counted = [r for r in rows if r.status != "excluded"]
        passed = sum(r.status == "passed" for r in counted)
        notes = "; ".join(f"`{r.name}`: {r.status if r.status == 'excluded' else ''}"
                          f"{' ' if r.status == 'excluded' else ''}{_cell(r.reason)}"
                          for r in rows if r.status != "passed")
        scope = "yes" if rows[0].in_scope else ""
        lines.append(f"| {ops or '(none)'} | {scope} | {passed} | {len(counted)} | {notes} |")
    lines += ["", "## Every test", "", "| test | status | reason |", "|---|---|---|"]
    for r in results:
        lines.append(f"| `{r.name}` | {r.status} | {_cell(r.reason)} |")
    atomic.write_text(out, "\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def check_floor(summary: dict, floor_file: Path) -> list[str]:
    """Messages for every count below the committed floor (empty when all hold)."""
    floor = json.loads(Path(floor_file).read_text("utf-8"))
    problems = []
    for key in ("passed", "in_scope_passed"):
        if key in floor and summary[key] < floor[key]:
            problems.append(f"ONNX coverage dropped: {key} = {summary[key]} < floor {floor[key]} ({floor_file})")
    return problems
