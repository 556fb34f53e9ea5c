"""An injected importer bug is localized to its node.

The ONNX file runs on ONNX Runtime (A) and, through our importer with a buggy converter, on
MXNet (B); the nodes match through the importer's recorded node map. Two bugs: GlobalAveragePool
pooling with max (tests/plugins/localize_buggy_converter.py, the graph's end), and a Conv
converter that misplaces the padding of stage 3's first Conv (tests/plugins/localize_buggy_conv.py,
half-way through the graph: the bisection must narrow down to it, in about log(matched) runs).
The plugins are loaded in a child process, as MXDEPLOY_PLUGINS is meant to be used.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localize_helpers import SHAPE

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def _compare(resnet, plugin: str | None, *extra: str):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(PLUGINS))
    env.pop("MXDEPLOY_PLUGINS", None)
    if plugin:
        env["MXDEPLOY_PLUGINS"] = plugin
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "compare", resnet["onnx"], f"{resnet['onnx']}@cpu",
                           "--input", SHAPE, "--localize", "--json", *extra], env=env, capture_output=True, text=True,
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


@pytest.mark.parametrize("max_taps", [1, 8])
def test_a_converter_bug_mid_graph_is_bisected_to_its_conv_in_log_runs(resnet, max_taps):
    import onnx

    sys.path.insert(0, str(PLUGINS))
    try:
        from localize_buggy_conv import hits
    finally:
        sys.path.remove(str(PLUGINS))

    nodes = list(onnx.load(resnet["onnx"]).graph.node)
    attrs = [{a.name: list(a.ints) for a in n.attribute} for n in nodes]
    channels = {t.name: t.dims[1] for t in onnx.load(resnet["onnx"]).graph.initializer if len(t.dims) == 4}
    (position, hit), *_ = [(i, n) for i, (n, a) in enumerate(zip(nodes, attrs)) if n.op_type == "Conv" and
                           hits(a.get("kernel_shape"), a.get("strides"), a.get("pads"), channels[n.input[1]])]
    assert 0.3 < position / len(nodes) < 0.7  # the middle of the graph, not its end
    proc = _compare(resnet, "localize_buggy_conv", "--max-taps", str(max_taps))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    found, loc = report["first_divergent"], report["localize"]
    assert found["tensor"] == hit.output[0] and found["op"] == "Conv" and found["other_op"] == "Convolution"
    assert found["inputs"] and all(i["max_abs_err"] < 1e-4 for i in found["inputs"])
    assert found["confirmed"] is True
    n = loc["matched"]
    assert n > 60 and loc["runs"] <= math.ceil(math.log(n) / math.log(max_taps + 1)) + 2
    assert loc["runs"] <= math.ceil(math.log2(n)) + 2
