"""`pipeline run` killed with SIGKILL at random points, into the same run directory, then run
to the end: the artifacts and reports, not the cache (test_runner_resume.py covers the cache).

After every kill: any report.json there is complete JSON, and every folder holding a
bundle.json loads with its sha256 checks (a bundle being rewritten has no manifest, never an
old manifest over new files). After the final run: the statuses of a clean run, no temp file
(`.NAME.XXXXXXXX.tmp`) left anywhere in the run directory, every bundle loads.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.model.bundle import ModelBundle

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

PIPELINES = """version: 1
defaults:
  inputs: {data: {shape: [1, 64]}}
pipelines:
  digits:
    source: {checkpoint: {prefix: digits-mlp}}
    stages:
      - check: {target: cpu}
      - deploy: {target: cpu, api: symbol}
      - verify: {input: random, seed: 0, runs: 2}
  legacy:
    source: {checkpoint: {prefix: legacy-mlp}}
    stages:
      - deploy: {target: cpu, api: module}
      - verify: {input: random, seed: 1, runs: 2}
"""


def _run(project: Path, out: str, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO), "MXDEPLOY_CACHE_DIR": str(project / "cache")}
    return [sys.executable, "-m", "pipeline.cli", "run", "pipelines.yaml", "--out", out, "--no-cache",
            "--jobs", "2"], dict(cwd=project, env=env, **kw)


def _statuses(run_dir: Path) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return {p["name"]: (p["status"], [s["status"] for s in p["stages"]]) for p in report["pipelines"]}


def _assert_consistent(run_dir: Path) -> None:
    if (run_dir / "report.json").exists():
        json.loads((run_dir / "report.json").read_text())  # complete, never a prefix
    for manifest in run_dir.rglob("bundle.json"):
        ModelBundle.load(manifest.parent)  # raises BND00x on a file that differs from its sha256


def test_sigkilled_runs_leave_no_partial_artifact(tmp_path):
    project = tmp_path
    for name in ("digits-mlp", "legacy-mlp"):
        for suffix in ("-symbol.json", "-0000.params"):
            shutil.copy(EXAMPLES / f"{name}{suffix}", project / f"{name}{suffix}")
    (project / "pipelines.yaml").write_text(PIPELINES)

    argv, kw = _run(project, "clean", capture_output=True, text=True, timeout=600)
    clean = subprocess.run(argv, **kw)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    seconds = json.loads((project / "clean" / "report.json").read_text())["seconds"]

    rng = random.Random(11)
    argv, kw = _run(project, "out", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for attempt in range(4):
        proc = subprocess.Popen(argv, **kw)
        time.sleep(rng.uniform(1.0, 1.0 + max(seconds, 3.0)))
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-write wherever they are
        proc.wait()
        _assert_consistent(project / "out")
    # what a kill inside atomic_path leaves (its cleanup never runs under SIGKILL)
    stale = project / "out" / "digits" / "00-checkpoint" / ".model-0000.params.k1ll3d00.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"\0" * 100)

    argv, kw = _run(project, "out", capture_output=True, text=True, timeout=600)
    final = subprocess.run(argv, **kw)
    assert final.returncode == 0, final.stdout + final.stderr
    assert _statuses(project / "out") == _statuses(project / "clean")
    _assert_consistent(project / "out")
    leftovers = [p for p in (project / "out").rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
