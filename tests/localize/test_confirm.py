"""Confirmation (pipeline/localize/confirm.py): the finding's node run alone, untapped, on both sides.

A real bug reproduces there (the corrupted Conv: tests/localize/test_compare_localize.py). These
tests cover the other answers: a node that only amplifies an input difference within tolerance
is named first divergent but is `confirmed: false` (run alone from the same inputs, both
runtimes agree), and a side that cannot cut its graph leaves it `null`, never true.
"""
from __future__ import annotations

import json

import mxnet as mx
import numpy as np

from localize_helpers import run_cli
from pipeline.localize.localizer import localize
from pipeline.model.bundle import ModelBundle, TensorSpec
from test_search_bound import FakeSide, _chain


def _amplifier(prefix) -> None:
    """FullyConnected -> tanh -> x 1e5: MXNet and ONNX Runtime round tanh a few ulp apart, the gain
    makes that 1e-1, and the Mul itself computes the same on both runtimes."""
    rng = np.random.default_rng(0)
    data = mx.sym.var("data")
    squash = mx.sym.tanh(mx.sym.FullyConnected(data, num_hidden=64, name="fc"), name="squash")
    out = mx.sym.elemwise_mul(squash, mx.sym.var("gain"), name="amplify")
    params = {"fc_weight": mx.nd.array(rng.normal(0, 0.3, (64, 256)).astype(np.float32)),
              "fc_bias": mx.nd.zeros((64,)), "gain": mx.nd.array(np.full((1, 64), 1e5, np.float32))}
    ModelBundle.from_symbol(out, params, {}, [TensorSpec("data", (1, 256))]).write_checkpoint(prefix)


def test_an_amplified_input_difference_is_named_but_not_confirmed(tmp_path):
    _amplifier(tmp_path / "amp")
    prefix = str(tmp_path / "amp")
    code, out, err = run_cli(["compare", prefix, f"{prefix}@onnxruntime", "--input", "data=1,256", "--localize",
                              "--json", "--atol", "1e-3", "--rtol", "0"])
    assert code == 1, err
    found = json.loads(out)["first_divergent"]
    assert found["node"] == "amplify" and found["max_abs_err"] > 1e-3
    assert found["inputs"][0]["node"] == "squash" and 0 < found["inputs"][0]["max_abs_err"] < 1e-3
    assert found["confirmed"] is False
    check = found["confirmation"]
    assert check["status"] == "not_reproduced" and check["max_abs_err"] < 1e-3 and check["runs"] == 3
    _, text, _ = run_cli(["compare", prefix, f"{prefix}@onnxruntime", "--input", "data=1,256", "--localize",
                          "--atol", "1e-3", "--rtol", "0"])
    assert "NOT reproduced alone, untapped" in text


class CuttableSide(FakeSide):
    """A FakeSide that can run one node from given inputs; `tap_artefact` corrupts only tapped runs,
    as a fusion the taps broke would."""

    def __init__(self, graph, corrupt=None, tap_artefact=False):
        super().__init__(graph, corrupt)
        self.tap_artefact = tap_artefact

    def run_subgraph(self, out_id, cut, feed):
        ins = self.graph[out_id]
        value = sum((feed[cut[i]] for i in ins), feed["x"]) + 1.0  # as FakeSide computes every node
        return value * 1.5 if out_id == self.corrupt and not self.tap_artefact else value


def _localize(a, b):
    feed = {"x": np.ones((2, 3), dtype=np.float32)}
    return localize(a, b, feed, atol=1e-6, rtol=1e-6, max_taps=4, baseline=(a.run(feed, [])[0], b.run(feed, [])[0]))[0]


def test_a_difference_only_taps_produce_is_not_confirmed_and_a_real_one_is():
    graph = _chain(30)
    real = _localize(CuttableSide(graph), CuttableSide(graph, corrupt="n17"))["first_divergent"]
    assert real["node"] == "n17" and real["confirmed"] is True and real["confirmation"]["status"] == "reproduced"
    artefact = _localize(CuttableSide(graph), CuttableSide(graph, corrupt="n17", tap_artefact=True))["first_divergent"]
    assert artefact["node"] == "n17" and artefact["confirmed"] is False
    assert artefact["confirmation"]["max_abs_err"] == 0


def test_a_side_that_cannot_cut_its_graph_leaves_the_finding_unconfirmed_not_true():
    graph = _chain(12)
    found = _localize(FakeSide(graph), FakeSide(graph, corrupt="n5"))["first_divergent"]
    assert found["node"] == "n5" and found["confirmed"] is None
    assert found["confirmation"]["status"] == "not_applicable" and "LOC007" in found["confirmation"]["reason"]
    assert found["confirmation"]["taps_left_outputs_unchanged"] is True
