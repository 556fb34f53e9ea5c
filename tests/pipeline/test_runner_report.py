"""report.md / report.html rows and chart, and `pipeline report --baseline` regressions."""
from __future__ import annotations

import argparse
import copy
import json
from html.parser import HTMLParser

import pytest

from pipeline.cli import report as report_cmd
from pipeline.core.errors import UsageError
from pipeline.report.regress import compare_runs
from pipeline.report import write_reports
from pipeline.report.markdown import cell_row, render_markdown


def _stage(name, status="passed", metrics=None, params=None, diagnostics=None):
    return {"name": name, "status": status, "seconds": 0.5, "metrics": metrics or {}, "params": params or {},
            "diagnostics": diagnostics or [], "artifacts": {}}


def _run() -> dict:
    verify = {"max_abs_err": 2e-6, "cosine": 1.0, "latency_ms": {"p50": 4.0, "p90": 5.0, "p99": 6.0}}
    return {"run_id": "r1", "started": "2026-11-25T00:00:00+00:00", "seconds": 3.0, "pipelines": [
        {"name": "zoo[model=a,target=cpu]", "status": "passed", "matrix": {"model": "a", "target": "cpu"},
         "log": "zoo__model=a,target=cpu/log.txt", "stages": [
             _stage("gluon", metrics={"nodes": 50, "params_bytes": 4_000_000}),
             _stage("optimize", metrics={"nodes_before": 50, "nodes_after": 31, "params_bytes_before": 4_000_000,
                                         "params_bytes_after": 3_500_000}),
             _stage("deploy", params={"target": "cpu"}),
             _stage("verify", metrics=verify)]},
        {"name": "zoo[model=a,target=onnxruntime]", "status": "cached", "matrix": {"model": "a", "target": "onnxruntime"},
         "log": "x/log.txt", "stages": [
             _stage("gluon", "cached", metrics={"nodes": 50, "params_bytes": 4_000_000}),
             _stage("deploy", "cached", params={"target": "onnxruntime"}),
             _stage("verify", "cached", metrics={**verify, "latency_ms": {"p50": 2.0}})]},
        {"name": "zoo[model=b,target=cpu]", "status": "failed", "matrix": {"model": "b", "target": "cpu"},
         "log": "b/log.txt", "stages": [
             _stage("gluon", metrics={"nodes": 9, "params_bytes": 1_000}),
             _stage("check", "failed", diagnostics=[
                 {"code": "EI101", "severity": "error", "message": "op <Custom> is not supported", "node": "n",
                  "hint": "h"}]),
             _stage("deploy", "skipped"), _stage("verify", "skipped")]},
    ]}


class _Cells(HTMLParser):
    """Collects the rows of table#cells, the bars of the svg, and any external reference."""

    def __init__(self):
        super().__init__()
        self.rows, self.bars, self.external, self.scripts = [], [], [], 0
        self._in_cells = self._in_row = self._in_cell = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "cells":
            self._in_cells = True
        elif tag == "tr" and self._in_cells:
            self._in_row, self._row = True, []
        elif tag in ("td", "th") and self._in_row:
            self._in_cell, self._text = True, ""
        elif tag == "rect" and attrs.get("class") == "bar":
            self.bars.append(attrs)
        elif tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_cells = False
        elif tag in ("td", "th") and self._in_cell:
            self._row.append(self._text.strip())
            self._in_cell = False
        elif tag == "tr" and self._in_row:
            self.rows.append(self._row)
            self._in_row = False

    def handle_data(self, data):
        if self._in_cell:
            self._text += data


def test_cell_row_reads_optimize_verify_and_the_deploy_target():
    rows = [cell_row(p) for p in _run()["pipelines"]]
    shown = ("target", "nodes_before", "nodes_after", "params_mb", "max_abs_err", "p50_ms")
    assert {k: rows[0][k] for k in shown} == {"target": "cpu", "nodes_before": 50, "nodes_after": 31,
                                              "params_mb": 3.5, "max_abs_err": 2e-6, "p50_ms": 4.0}
    assert rows[1]["target"] == "onnxruntime" and rows[1]["nodes_after"] is None and rows[1]["params_mb"] == 4.0
    assert (rows[2]["failed_stage"], rows[2]["code"]) == ("check", "EI101")


def test_html_is_self_contained_with_one_row_per_cell_and_a_bar_per_latency(tmp_path):
    write_reports(tmp_path, _run())
    text = (tmp_path / "report.html").read_text()
    parser = _Cells()
    parser.feed(text)
    header, *rows = parser.rows
    assert header[:3] == ["cell", "status", "target"]
    assert [r[0] for r in rows] == [p["name"] for p in _run()["pipelines"]]
    assert rows[2][3].startswith("check: EI101 op <Custom> is not supported")  # escaped, shown as text
    assert "<Custom>" not in text
    assert len(parser.bars) == 2 and float(parser.bars[0]["width"]) > float(parser.bars[1]["width"])
    assert parser.bars[0]["fill"] != parser.bars[1]["fill"]  # one colour per target
    assert parser.external == [] and parser.scripts == 0 and "<style>" in text
    markdown = (tmp_path / "report.md").read_text()
    assert "| zoo[model=b,target=cpu] | ❌ failed | cpu | check: EI101 op <Custom> is not supported ([log](b/log.txt))" in markdown
    assert "| 50 → 31 | 3.50 | 2.00e-06 | 4.00 |" in markdown


def test_markdown_escapes_pipes():
    run = _run()
    run["pipelines"][2]["stages"][1]["diagnostics"][0]["message"] = "a|b"
    assert "a\\|b" in render_markdown(run)


def test_markdown_keeps_a_multi_line_runtime_message_on_its_line():
    run = _run()
    diag = run["pipelines"][2]["stages"][1]["diagnostics"][0]
    diag["message"] = "Exception from src/core.cpp:105:\nCheck 'false' failed\n| Can not create StaticMemory"
    diag["node"], diag["hint"] = "odd`name", "try\nonnxruntime"
    text = render_markdown(run)
    item = next(line for line in text.splitlines() if line.startswith("- ") and "EI101" in line)
    assert "Check 'false' failed" in item and "Can not create StaticMemory" in item and "try onnxruntime" in item
    assert "`` odd`name ``" in item  # a backtick in a node name cannot end the code span
    row = next(line for line in text.splitlines() if line.startswith("| zoo[model=b"))
    assert "Check 'false' failed \\| Can not create StaticMemory" in row and row.count("\n") == 0


def test_regressions_status_and_latency_beyond_threshold():
    baseline = _run()
    current = copy.deepcopy(baseline)
    current["pipelines"][0]["status"] = "crashed"  # passed -> crashed
    current["pipelines"][1]["stages"][2]["metrics"]["latency_ms"]["p50"] = 2.5  # +25 %
    current["pipelines"][2]["status"] = "passed"  # an improvement, not a regression
    changes = compare_runs(baseline, current, latency_threshold=0.2)
    found = {(c.cell, c.kind): c.regression for c in changes}
    assert found == {("zoo[model=a,target=cpu]", "status"): True,
                     ("zoo[model=a,target=onnxruntime]", "latency"): True,
                     ("zoo[model=b,target=cpu]", "status"): False}
    assert compare_runs(baseline, current, latency_threshold=0.3) == [c for c in changes if c.kind != "latency"]
    assert compare_runs(baseline, baseline) == []


def _args(run_dir, baseline=None, threshold=0.2, as_json=True):
    return argparse.Namespace(run_dir=str(run_dir), baseline=str(baseline) if baseline else None,
                              latency_threshold=threshold, json=as_json)


def test_report_command_exit_codes(tmp_path, capsys):
    base, cur = tmp_path / "base", tmp_path / "cur"
    write_reports(base, _run())
    slower = _run()
    slower["pipelines"][0]["stages"][3]["metrics"]["latency_ms"]["p50"] = 8.0
    write_reports(cur, slower)
    (cur / "report.html").unlink()
    assert report_cmd.main(_args(cur, base)) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["regressions"] == 1 and printed["changes"][0]["kind"] == "latency"
    assert (cur / "report.html").is_file()  # re-rendered from report.json
    assert report_cmd.main(_args(cur, base, threshold=1.5)) == 0
    assert report_cmd.main(_args(cur)) == 0
    with pytest.raises(UsageError) as err:
        report_cmd.main(_args(tmp_path / "nothing"))
    assert err.value.code == "RPT001"


def test_target_auto_shows_the_target_and_precision_it_chose():
    auto = {"choice": {"target": "openvino", "precision": "int8", "p50_ms": 1.0, "cosine": 0.999}, "table": []}
    run = {"run_id": "r2", "started": "2026-11-25T00:00:00+00:00", "seconds": 1.0, "pipelines": [
        {"name": "auto", "status": "passed", "matrix": {}, "stages": [
            _stage("gluon", metrics={"nodes": 5, "params_bytes": 10}),
            _stage("deploy", metrics={"load_seconds": 0.1, "auto": auto}, params={"target": "auto"}),
            _stage("verify", metrics={"max_abs_err": 0.01, "latency_ms": {"p50": 1.5}})]}]}
    row = cell_row(run["pipelines"][0])
    assert (row["target"], row["precision"], row["p50_ms"]) == ("openvino", "int8", 1.5)
    assert "| auto | ✅ passed | openvino int8 |" in render_markdown(run)


def test_summary_columns_come_from_declarations_not_stage_names():
    run = _run()
    cell = copy.deepcopy(run["pipelines"][0])
    # a stage named like deploy, but declaring nothing, does not pick the target
    cell["stages"].append(_stage("deploy_notes", params={"target": "openvino"}))
    assert cell_row(cell)["target"] == "cpu"
    # a recorded summary is what the report reads
    cell["stages"].append({**_stage("x_plugin"), "summary": {"target": "eia1.large", "p50_ms": 9.0}})
    assert (cell_row(cell)["target"], cell_row(cell)["p50_ms"]) == ("eia1.large", 9.0)
