"""The ONNX backend node-test sweep must not drop below the committed floor.

The full sweep (about 1,450 tests, ~30 s on 2 cores: failing imports are fast) runs in the
default test run; tests/onnx_coverage_floor.json holds the pass counts it must keep.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.onnx.importer.coverage import compare, run_sweep, totals
from pipeline.onnx.importer.coverage_report import check_floor, write_report

FLOOR = Path(__file__).resolve().parents[1] / "onnx_coverage_floor.json"


def test_backend_node_tests_stay_above_the_floor(tmp_path):
    results = run_sweep(jobs=2)
    summary = totals(results)
    write_report(results, summary, tmp_path / "coverage.md")
    assert not check_floor(summary, FLOOR), summary
    assert summary["in_scope_pct"] >= 90.0 and summary["passed_pct"] >= 70.0, summary
    excluded = {r.reason for r in results if r.status == "excluded"}
    assert {"bf16", "float8", "training", "random", "sequence", "optional"} <= excluded


def test_floor_check_reports_a_drop(tmp_path):
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"passed": 10, "in_scope_passed": 5}))
    assert check_floor({"passed": 10, "in_scope_passed": 5}, floor) == []
    (problem,) = check_floor({"passed": 9, "in_scope_passed": 5}, floor)
    assert "passed = 9 < floor 10" in problem


def test_compare_checks_shape_and_values_within_tolerance():
    assert compare(np.ones((2, 3)), np.ones((2, 3))) == ""
    assert compare(np.array(1.0), np.ones(1)) == ""  # MXNet carries a scalar as (1,)
    assert "shape" in compare(np.ones((2, 3)), np.ones((3, 2)))
    assert "values differ" in compare(np.ones(3), np.ones(3) + 1e-2)
    assert compare(np.array([True, False]), np.array([1.0, 0.0])) == ""
    assert "boolean" in compare(np.array([True, False]), np.array([0.0, 0.0]))


@pytest.mark.parametrize("name", ["test_relu", "test_lstm_defaults"])
def test_worker_runs_a_test_in_a_subprocess(name):
    (result,) = run_sweep([name], jobs=1)
    assert result.status == "passed", result
