"""End to end: per-cell timeouts (config and --timeout) and the memory guard report `crashed`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "plugins"

PIPELINES = """
version: 1
defaults:
  inputs: {data: {shape: [1, 4]}}
pipelines:
  sleeps-default:
    source: {tiny_fc: {}}
    stages: [{t_sleep: {seconds: 120}}]
  sleeps-own:
    source: {tiny_fc: {}}
    timeout: 12.5
    stages: [{t_sleep: {seconds: 120}}]
  hog:
    source: {tiny_fc: {}}
    stages: [{t_alloc: {gib: 2.0, hold: 60}}]
  fine:
    source: {tiny_fc: {}}
    timeout: 300
    stages: [{t_sleep: {seconds: 0.1}}]
"""


def test_timeouts_and_memory_guard_crash_only_their_cells(tmp_path):
    (tmp_path / "pipelines.yaml").write_text(textwrap.dedent(PIPELINES))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{PLUGINS}", "MXDEPLOY_PLUGINS": "runner_test_stages",
           "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "pipelines.yaml", "--out", "out",
                           "--jobs", "4", "--timeout", "15", "--max-memory-gb", "1"],
                          cwd=tmp_path, env=env, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    cells = {p["name"]: p for p in report["pipelines"]}
    assert {n: p["status"] for n, p in cells.items()} == {
        "sleeps-default": "crashed", "sleeps-own": "crashed", "hog": "crashed", "fine": "passed"}
    assert cells["sleeps-default"]["reason"] == "timed out after 15 s"
    assert cells["sleeps-own"]["reason"] == "timed out after 12.5 s"  # the config's timeout wins
    assert cells["hog"]["reason"] == "memory limit exceeded (1 GiB)"
    for name in ("sleeps-default", "sleeps-own", "hog"):
        stages = cells[name]["stages"]  # the stage running when the cell was killed is the culprit
        culprit = next(s for s in stages if s["status"] == "error")
        assert culprit["diagnostics"][0]["code"] == "RUN001"
        assert [s["status"] for s in stages if s is not culprit] in (["passed"], ["skipped"])
        log = cells[name]["log"]
        assert (tmp_path / "out" / log).is_file()  # the failed cell keeps its log...
        assert f"]({log})" in (tmp_path / "out" / "report.md").read_text()  # ...linked from the report
        assert f'href="{log}"' in (tmp_path / "out" / "report.html").read_text()
    assert settings_of(report) == {"timeout": 15.0, "max_memory_gb": 1.0}


def settings_of(report: dict) -> dict:
    return {k: report["settings"][k] for k in ("timeout", "max_memory_gb")}
