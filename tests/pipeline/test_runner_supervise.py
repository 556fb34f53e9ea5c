"""pipeline/run/executors/supervise.py and pipeline/core/plugins.py: the pieces under every executor."""
from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time

import pytest

from pipeline.run.executors.supervise import GiB, group_rss_bytes
from pipeline.core.plugins import PluginError, load_plugins, plugin_names


def test_group_rss_counts_every_process_of_the_group():
    hog = "import numpy, time; b = numpy.ones(300 * 2**20 // 8); print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", hog], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        rss = group_rss_bytes(proc.pid)
        assert 300 * 2**20 < rss < 1 * GiB
        assert group_rss_bytes(os.getpgrp()) > 0
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while group_rss_bytes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_rss_bytes(proc.pid) == 0


def test_plugins_from_the_environment(monkeypatch):
    assert plugin_names(" a.b , ,c ") == ["a.b", "c"]
    monkeypatch.setenv("MXDEPLOY_PLUGINS", "json, pipeline.core.paramspec")
    assert load_plugins() == ["json", "pipeline.core.paramspec"]
    monkeypatch.setenv("MXDEPLOY_PLUGINS", "no_such_module_xyz")
    with pytest.raises(PluginError) as err:
        load_plugins()
    assert err.value.code == "PLG001" and err.value.where == "MXDEPLOY_PLUGINS"


def test_a_native_crash_in_a_runtime_call_says_what_the_worker_was_doing(tmp_path):
    """The worker's breadcrumb (pipeline/core/activity.py) names the stage, the runtime, the call
    and the feed's ranges; the supervisor puts them, and a hint, in RUN001."""
    import json
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "p.yaml").write_text(
        "version: 1\npipelines:\n  boom:\n    source: {tiny_fc: {hidden: 3}}\n"
        "    inputs: {data: {shape: [1, 8]}}\n    stages:\n      - deploy: {target: t_crash_infer}\n")
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{repo / 'tests' / 'plugins'}",
           "MXDEPLOY_PLUGINS": "runner_test_stages,crash_targets", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "p.yaml", "--out", "out", "--no-cache"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stdout + proc.stderr
    cell = json.loads((tmp_path / "out" / "report.json").read_text())["pipelines"][0]
    assert cell["status"] == "crashed"
    (diag,) = cell["stages"][1]["diagnostics"]
    assert diag["code"] == "RUN001" and "SIGABRT" in diag["message"]
    assert "while ONNX Runtime" in diag["message"] and "was in inference" in diag["message"]
    assert "stage 'deploy'" in diag["message"] and "inputs: data float32 [1, 8] in [0, 0]" in diag["message"]
    assert "range" in diag["hint"] and "--localize" in diag["hint"]
