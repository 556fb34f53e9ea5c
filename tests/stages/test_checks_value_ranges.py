"""EI9xx: a declared input range that indexes past an Embedding's table (MXNet clips, ONNX Runtime refuses)."""
import dataclasses

import mxnet as mx

from checks_helpers import make_bundle, run, subject


def _bundle(rows=100, **spec):
    ids = mx.sym.Cast(mx.sym.Reshape(mx.sym.var("data0"), shape=(0, -1)), dtype="float32")
    net = mx.sym.Embedding(ids, input_dim=rows, output_dim=4, name="embed0")
    bundle = make_bundle(net, {"data0": (2, 16)})
    bundle.inputs = [dataclasses.replace(bundle.inputs[0], **spec)]
    return bundle


def test_a_range_inside_the_table_is_fine():
    assert run("value_ranges", subject(_bundle(range=(0, 100), integer=True), "cpu")) == []


def test_a_range_past_the_table_warns_naming_the_node():
    for spec in ({"range": (0, 101), "integer": True}, {"range": (-1, 50), "integer": True}, {"range": (0.0, 100.0)}):
        assert run("value_ranges", subject(_bundle(**spec), "onnxruntime")) == [("EI901", "warning", "embed0")]


def test_no_range_on_an_embedding_input_warns():
    assert run("value_ranges", subject(_bundle(), "cpu")) == [("EI902", "warning", "embed0")]


def test_inputs_that_feed_no_embedding_are_not_checked():
    net = mx.sym.relu(mx.sym.var("data"))
    assert run("value_ranges", subject(make_bundle(net, {"data": (2, 3)}), "cpu")) == []
