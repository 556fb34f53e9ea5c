"""An injected importer bug (tests/plugins/localize_buggy_converter.py) is localized to its node.

The ONNX file runs on ONNX Runtime (A) and, through our importer with the buggy
GlobalAveragePool converter, on MXNet (B); the nodes match through the importer's recorded
node map. The plugin is loaded in a child process, as MXDEPLOY_PLUGINS is meant to be used.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from localize_helpers import SHAPE

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def _compare(resnet, plugin: str | None):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(PLUGINS))
    env.pop("MXDEPLOY_PLUGINS", None)
    if plugin:
        env["MXDEPLOY_PLUGINS"] = plugin
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "compare", resnet["onnx"], f"{resnet['onnx']}@cpu",
                           "--input", SHAPE, "--localize", "--json"], env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_buggy_converter_is_named(resnet):
    import onnx

    pool = next(n for n in onnx.load(resnet["onnx"]).graph.node if n.op_type == "GlobalAveragePool")
    proc = _compare(resnet, "localize_buggy_converter")
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["first_divergent"]
    assert found["op"] == "GlobalAveragePool" and found["tensor"] == pool.output[0]
    assert found["other_op"] == "Pooling"
    assert all(i["max_abs_err"] < 1e-4 for i in found["inputs"])


def test_without_the_bug_the_import_agrees(resnet):
    proc = _compare(resnet, None)
    assert proc.returncode == 0, proc.stderr
