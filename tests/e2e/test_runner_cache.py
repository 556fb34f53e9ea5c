"""End to end: `pipeline run` twice hits the stage cache; --no-cache and changes recompute.

The test stages (tests/plugins/runner_test_stages.py, loaded via MXDEPLOY_PLUGINS) count
their real executions in count.txt, so a cache hit is proven by a line that is NOT written.
"""
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
pipelines:
  one:
    source: {tiny_fc: {hidden: 3, weights: w.txt}}
    inputs: {data: {shape: [1, 8]}}
    stages:
      - t_count: {file: count.txt, tag: a}
      - t_deploy: {target: cpu}
  two:
    source: {tiny_fc: {hidden: 5}}
    inputs: {data: {shape: [1, 8]}}
    stages:
      - t_count: {file: count.txt, tag: b}
      - t_deploy: {target: onnxruntime}
      - t_verify: {p50: 3.0}
"""


def _cli(project: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{PLUGINS}", "MXDEPLOY_PLUGINS": "runner_test_stages",
           "MXDEPLOY_CACHE_DIR": str(project / "cache")}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "pipelines.yaml", "--jobs", "2", *args],
                          cwd=project, env=env, text=True, capture_output=True, timeout=300)


def _project(tmp_path: Path, body: str = PIPELINES) -> Path:
    (tmp_path / "pipelines.yaml").write_text(textwrap.dedent(body))
    (tmp_path / "w.txt").write_text("weights v1")
    return tmp_path


def _report(project: Path, out: str) -> dict:
    return json.loads((project / out / "report.json").read_text())


def _counted(project: Path) -> list[str]:
    path = project / "count.txt"
    return sorted(path.read_text().splitlines()) if path.exists() else []


def _stable(report: dict) -> dict:
    """The report without timings, statuses and cache notes: what a cache hit must reproduce."""
    out = {}
    for p in report["pipelines"]:
        out[p["name"]] = [{k: s[k] for k in ("name", "metrics", "diagnostics", "artifacts", "params")}
                          for s in p["stages"] if s["name"] != "t_verify"]
    return out


def test_second_run_is_served_from_the_cache_and_no_cache_recomputes(tmp_path):
    project = _project(tmp_path)
    first = _cli(project, "--out", "run1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert _counted(project) == ["one 1 a", "two 1 b"]
    assert "(2/2 cells)" in first.stderr  # plain progress lines when not on a terminal

    second = _cli(project, "--out", "run2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _counted(project) == ["one 1 a", "two 1 b"]  # nothing ran again
    report1, report2 = _report(project, "run1"), _report(project, "run2")
    statuses = {p["name"]: [s["status"] for s in p["stages"]] for p in report2["pipelines"]}
    assert statuses == {"one": ["cached", "cached", "cached"], "two": ["cached", "cached", "cached", "passed"]}
    assert [p["status"] for p in report2["pipelines"]] == ["cached", "passed"]
    assert _stable(report2) == _stable(report1)
    verify = report2["pipelines"][1]["stages"][3]["metrics"]
    assert verify["redeployed"] is True and verify["target"] == "onnxruntime"  # deploy cached, verify re-deploys
    assert report1["pipelines"][1]["stages"][3]["metrics"]["redeployed"] is False
    assert (project / "run2" / "one" / "01-t_count" / "note.txt").read_text() == "counted a\n"
    assert "restored from the cache" in (project / "run2" / "one" / "log.txt").read_text()  # no worker at all
    assert (project / "run2" / "two" / "02-t_deploy" / "bundle.json").is_file()

    forced = _cli(project, "--out", "run3", "--no-cache")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert _counted(project) == ["one 1 a", "one 1 a", "two 1 b", "two 1 b"]
    assert {s["status"] for p in _report(project, "run3")["pipelines"] for s in p["stages"]} == {"passed"}


def test_changed_params_inputs_and_file_content_invalidate(tmp_path):
    project = _project(tmp_path)
    assert _cli(project, "--out", "r0").returncode == 0
    assert len(_counted(project)) == 2

    (project / "w.txt").write_text("weights v2")  # a file the source reads: one's source and count re-run
    run = _cli(project, "--out", "r1")
    assert run.returncode == 0, run.stderr
    assert _counted(project) == ["one 1 a", "one 1 a", "two 1 b"]
    stages = {p["name"]: [s["status"] for s in p["stages"]] for p in _report(project, "r1")["pipelines"]}
    assert stages["one"] == ["passed", "passed", "passed"]
    assert stages["two"][:3] == ["cached", "cached", "cached"]

    (project / "pipelines.yaml").write_text(textwrap.dedent(PIPELINES).replace("tag: b", "tag: c")
                                            .replace("hidden: 3, weights", "hidden: 3, seed: 0, weights"))
    run = _cli(project, "--out", "r2")  # a param of two's count stage changed; one's seed is its default
    assert run.returncode == 0, run.stderr
    stages = {p["name"]: [s["status"] for s in p["stages"]] for p in _report(project, "r2")["pipelines"]}
    assert stages["one"] == ["cached", "cached", "cached"]
    assert stages["two"][:3] == ["cached", "passed", "passed"]
    assert _counted(project).count("two 1 c") == 1

    (project / "pipelines.yaml").write_text(textwrap.dedent(PIPELINES).replace("shape: [1, 8]", "shape: [2, 8]"))
    run = _cli(project, "--out", "r3")  # declared inputs changed: every stage re-runs
    assert run.returncode == 0, run.stderr
    statuses = {s["status"] for p in _report(project, "r3")["pipelines"] for s in p["stages"]}
    assert statuses == {"passed"}
