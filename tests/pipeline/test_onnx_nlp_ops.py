"""One-node exports of the ops GluonNLP's transformers and LSTMs use, at both verified sizes.

Each graph is one MXNet op with the inputs GluonNLP gives it, the sequence (and where the op
allows it, the batch) axis declared dynamic. The export runs on ONNX Runtime at the declared
shape and at the second size (TensorSpec.resized: batch + 1, sequence x 2) against MXNet's
executor; the exported file is imported back (pipeline/onnx/importer) and run on MXNet too,
the round trip ONNX -> MXNet. Tolerance atol 1e-4, rtol 1e-3 everywhere.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.graph import run_bundle
from pipeline.measure.inputs import random_feed
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import export_bundle

ATOL, RTOL = 1e-4, 1e-3
SEQ, BATCH, HEADS, DIM = 8, 2, 2, 4


def _bundle(sym, specs: list[TensorSpec]) -> ModelBundle:
    """`sym` with seeded random params for every argument that is not a declared input."""
    rng = np.random.default_rng(0)
    shapes = {s.name: s.shape for s in specs}
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    args = {n: rng.uniform(-0.5, 0.5, s).astype("float32")
            for n, s in zip(sym.list_arguments(), arg_shapes) if n not in shapes}
    auxs = {n: np.ones(s, "float32") for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    return ModelBundle.from_symbol(sym, args, auxs, specs)


def _case_qk():
    import mxnet as mx

    qkv = TensorSpec("qkv", (SEQ, BATCH, 3 * HEADS * DIM), batch_axis=1, dynamic=(0,))
    return mx.sym.contrib.interleaved_matmul_selfatt_qk(mx.sym.var("qkv"), heads=HEADS), [qkv]


def _case_valatt():
    import mxnet as mx

    qkv = TensorSpec("qkv", (SEQ, BATCH, 3 * HEADS * DIM), batch_axis=1, dynamic=(0,))
    att = TensorSpec("att", (BATCH * HEADS, SEQ, SEQ), range=(0, 1), dynamic=(1, 2))
    return mx.sym.contrib.interleaved_matmul_selfatt_valatt(mx.sym.var("qkv"), mx.sym.var("att"), heads=HEADS), \
        [qkv, att]


def _case_div_sqrt_dim():
    import mxnet as mx

    return mx.sym.contrib.div_sqrt_dim(mx.sym.var("x")), [TensorSpec("x", (BATCH, SEQ, DIM), dynamic=(0, 1))]


def _case_masked_softmax():
    """The attention softmax with an int32 length per (batch x heads) row."""
    import mxnet as mx

    x = TensorSpec("x", (BATCH, SEQ, SEQ), dynamic=(0, 1, 2))
    length = TensorSpec("length", (BATCH, SEQ), "int32", range=(1, SEQ + 1), dynamic=(0, 1))
    return mx.sym.softmax(mx.sym.var("x"), length=mx.sym.var("length"), axis=-1, use_length=True), [x, length]


def _case_masked_softmax_float_length():
    """BERT's form: the length arrives as float32 whole numbers (GluonNLP's valid_length) and is
    cast to int32 right before softmax, which refuses a float length ("only support integer types")."""
    import mxnet as mx

    x = TensorSpec("x", (BATCH, SEQ, SEQ), dynamic=(0, 1, 2))
    length = TensorSpec("length", (BATCH, SEQ), "float32", range=(1, SEQ + 1), integer=True, dynamic=(0, 1))
    return mx.sym.softmax(mx.sym.var("x"), length=mx.sym.Cast(mx.sym.var("length"), dtype="int32"), axis=-1,
                          use_length=True), [x, length]


def _case_sequence_mask():
    import mxnet as mx

    x = TensorSpec("x", (BATCH, SEQ, DIM), dynamic=(0, 1))
    length = TensorSpec("length", (BATCH,), range=(1, SEQ + 1), integer=True, dynamic=(0,))
    return mx.sym.SequenceMask(mx.sym.var("x"), mx.sym.var("length"), use_sequence_length=True, value=-1e4,
                               axis=1), [x, length]


def _case_arange_like():
    import mxnet as mx

    x = mx.sym.var("x")
    return mx.sym.broadcast_add(mx.sym.contrib.arange_like(x, axis=1), x), [TensorSpec("x", (BATCH, SEQ),
                                                                                        dynamic=(0, 1))]


def _case_rnn_with_begin_states():
    """The fused LSTM op with begin states as inputs (GluonNLP's LMs), state outputs on."""
    import mxnet as mx

    layers, hidden = 2, 6
    data = TensorSpec("data", (SEQ, BATCH, DIM), batch_axis=1, dynamic=(0,))
    h = TensorSpec("h", (layers, BATCH, hidden), range=(-1, 1), batch_axis=1)
    c = TensorSpec("c", (layers, BATCH, hidden), range=(-1, 1), batch_axis=1)
    sym = mx.sym.RNN(mx.sym.var("data"), mx.sym.var("rnn_parameters"), mx.sym.var("h"), mx.sym.var("c"),
                     state_size=hidden, num_layers=layers, mode="lstm", state_outputs=True, name="rnn0")
    return sym, [data, h, c]


def _case_embedding_float_ids():
    import mxnet as mx

    ids = TensorSpec("ids", (BATCH, SEQ), range=(0, 50), integer=True, dynamic=(0, 1))
    return mx.sym.Embedding(mx.sym.var("ids"), input_dim=50, output_dim=DIM, name="embed0"), [ids]


def _case_layer_norm():
    import mxnet as mx

    x = TensorSpec("x", (BATCH, SEQ, DIM), dynamic=(0, 1))
    return mx.sym.LayerNorm(mx.sym.var("x"), axis=-1, eps=1e-12, name="ln0"), [x]


def _case_erf_gelu():
    import mxnet as mx

    x = TensorSpec("x", (BATCH, SEQ, DIM), range=(-4, 4), dynamic=(0, 1))
    return mx.sym.LeakyReLU(mx.sym.var("x"), act_type="gelu"), [x]


CASES = {name[len("_case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("_case_")}


def _sizes(specs):
    return [(specs, 0), ([s.resized() for s in specs], 1)]


@pytest.fixture(scope="module", params=sorted(CASES))
def exported(request, tmp_path_factory):
    sym, specs = CASES[request.param]()
    bundle = _bundle(sym, specs)
    return request.param, bundle, export_bundle(bundle, tmp_path_factory.mktemp(request.param) / "model.onnx")


def test_onnxruntime_matches_mxnet_at_both_sizes(exported):
    import onnxruntime as ort

    name, bundle, path = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for specs, index in _sizes(bundle.inputs):
        feed = random_feed(specs, seed=3, batch_index=index)
        ref = run_bundle(bundle, feed)
        got = session.run(None, feed)
        assert len(got) == len(ref), name
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, atol=ATOL, rtol=RTOL, err_msg=f"{name} at {[s.shape for s in specs]}")


def test_the_export_imports_back_and_matches_mxnet(exported):
    """ONNX -> MXNet with our importer, at the declared shape and the second size."""
    from pipeline.onnx.load import load_onnx

    name, bundle, path = exported
    for specs, index in _sizes(bundle.inputs):
        imported = load_onnx(path, {s.name: s.shape for s in specs})
        feed = random_feed(specs, seed=4, batch_index=index)
        ref = run_bundle(bundle, feed)
        got = run_bundle(imported, feed)
        assert len(got) == len(ref), name
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, atol=ATOL, rtol=RTOL, err_msg=f"{name} at {[s.shape for s in specs]}")


def test_every_nlp_op_has_a_case():
    assert set(CASES) == {"qk", "valatt", "div_sqrt_dim", "masked_softmax",
                          "masked_softmax_float_length", "sequence_mask", "arange_like",
                          "rnn_with_begin_states", "embedding_float_ids", "layer_norm", "erf_gelu"}
