"""pipeline/run/executors/supervise.py and pipeline/core/plugins.py: the pieces under every executor."""
from __future__ import annotations

import os
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
