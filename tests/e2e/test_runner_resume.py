"""End to end: `pipeline run` killed with SIGKILL at random points resumes from the cache.

After every kill the workers die too (they watch their parent), a damaged cache entry and a
half-written temp entry are planted, and a final run finishes with the statuses of a clean
run; every bundle it produced passes its sha256 check, and one more run executes nothing.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pipeline.model.bundle import ModelBundle
from pipeline.run.cache import StageCache

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "plugins"

PIPELINES = """
version: 1
defaults:
  inputs: {data: {shape: [1, 16]}}
pipelines:
  cell:
    matrix: {n: [1, 2, 3]}
    source: {tiny_fc: {hidden: "${n}"}}
    stages:
      - t_count: {file: count.txt, tag: "first-${n}"}
      - t_sleep: {seconds: 0.7}
      - t_count: {file: count.txt, tag: "second-${n}"}
  crash:
    source: {tiny_fc: {}}
    stages: [t_abort]
"""


def _env(project: Path) -> dict:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{PLUGINS}", "MXDEPLOY_PLUGINS": "runner_test_stages",
            "MXDEPLOY_CACHE_DIR": str(project / "cache")}


def _args(out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "run", "pipelines.yaml", "--jobs", "2", "--out", out, *extra]


def _statuses(project: Path, out: str) -> dict:
    report = json.loads((project / out / "report.json").read_text())
    ok = {"passed": "ok", "cached": "ok"}
    return {p["name"]: ok.get(p["status"], p["status"]) for p in report["pipelines"]}


def _group_gone(pgid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_sigkilled_runs_resume_to_the_clean_statuses(tmp_path):
    project = tmp_path
    (project / "pipelines.yaml").write_text(textwrap.dedent(PIPELINES))
    env = _env(project)
    rng = random.Random(8)
    cache = StageCache(project / "cache")
    for attempt in range(3):
        proc = subprocess.Popen(_args("out"), cwd=project, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        if attempt == 2:  # the last kill lands after something was cached, whatever the machine's speed
            deadline = time.monotonic() + 120
            while not list(cache.entries.glob("*/*/model-0000.params")) and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(rng.uniform(0.5, 4.0))
        os.kill(proc.pid, signal.SIGKILL)  # only the parent: its workers must notice and die
        proc.wait()
        assert _group_gone(proc.pid), f"workers outlived the killed run (attempt {attempt})"

    entries = sorted(p.parent for p in cache.entries.glob("*/*/model-0000.params"))
    assert entries, "no bundle was cached before the kills"
    damaged = entries[0] / "model-0000.params"  # damage one published entry (a new inode, as a bad copy would)
    data = damaged.read_bytes()
    damaged.unlink()
    damaged.write_bytes(data[:10])
    half = cache.tmp / f"{entries[-1].name}@{os.uname().nodename}@999999999@dead"
    half.mkdir(parents=True, exist_ok=True)
    (half / "bundle.json").write_text("{")

    final = subprocess.run(_args("out"), cwd=project, env=env, text=True, capture_output=True, timeout=300)
    assert final.returncode == 1, final.stdout + final.stderr  # the crash cell crashes every time
    clean = subprocess.run(_args("clean", "--no-cache"), cwd=project, env=env, text=True, capture_output=True,
                           timeout=300)
    assert clean.returncode == 1, clean.stdout + clean.stderr
    assert _statuses(project, "out") == _statuses(project, "clean") == {
        "cell[n=1]": "ok", "cell[n=2]": "ok", "cell[n=3]": "ok", "crash": "crashed"}
    assert not half.exists()  # swept: its writer is dead
    for folder in (project / "out").glob("cell*/0[0-3]-*"):
        if (folder / "bundle.json").exists():
            ModelBundle.load(folder)  # raises on any file that differs from its recorded sha256
    for entry in cache.entries.glob("*/*"):
        assert cache.lookup(entry.name) is not None, f"a damaged entry is still published: {entry}"

    before = (project / "count.txt").read_text()
    again = subprocess.run(_args("again"), cwd=project, env=env, text=True, capture_output=True, timeout=300)
    assert again.returncode == 1
    assert (project / "count.txt").read_text() == before  # everything was done: nothing ran
    report = json.loads((project / "again" / "report.json").read_text())
    assert [p["status"] for p in report["pipelines"]] == ["cached", "cached", "cached", "crashed"]
