"""pipeline/onnx/transformer_fusion.py: GluonNLP attention and LayerNorm as ONNX Runtime's fused ops.

A small BERT (2 layers, 4 heads) with random weights, exported by our exporter, rewritten, then
optimized by ONNX Runtime's own transformer optimizer: the fused model must equal MXNet's
executor at atol 1e-4 / rtol 1e-3, with valid lengths shorter than the sequence (the mask), and
the fusion counts must show every attention block and LayerNorm fused.
"""
from __future__ import annotations

import collections
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.graph import run_bundle
from pipeline.measure.compare import compare
from pipeline.model.bundle import TensorSpec
from pipeline.model.resolve import export_block
from pipeline.onnx.export import to_onnx
from pipeline.onnx.transformer_fusion import fuse_transformer, is_transformer, optimize_with_onnxruntime

HEADS, UNITS, VOCAB, BATCH, SEQ = 4, 64, 100, 2, 16


@pytest.fixture(scope="module")
def bert_bundle():
    import gluonnlp as nlp
    import mxnet as mx

    vocab = nlp.Vocab(collections.Counter({f"t{i}": 1 for i in range(VOCAB - 4)}))
    mx.random.seed(0)
    net, _ = nlp.model.get_model("bert_12_768_12", dataset_name=None, vocab=vocab, pretrained=False,
                                 use_pooler=True, use_decoder=False, use_classifier=False, num_layers=2,
                                 units=UNITS, embed_size=UNITS, hidden_size=4 * UNITS, num_heads=HEADS, max_length=64,
                                 hparam_allow_override=True)
    net.initialize(mx.init.Normal(0.02))
    inputs = [TensorSpec("data0", (BATCH, SEQ)), TensorSpec("data1", (BATCH, SEQ)), TensorSpec("data2", (BATCH,))]
    with tempfile.TemporaryDirectory() as tmp:
        return export_block(net, inputs, Path(tmp))


def _feed(valid: list[int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"data0": rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.float32),
            "data1": rng.integers(0, 2, (BATCH, SEQ)).astype(np.float32),
            "data2": np.array(valid, np.float32)}


def _session(model):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_every_attention_block_and_layernorm_is_fused_and_outputs_match_mxnet(bert_bundle):
    assert is_transformer(bert_bundle)
    fused, report = fuse_transformer(to_onnx(bert_bundle), bert_bundle)
    optimized = optimize_with_onnxruntime(fused, HEADS, UNITS, report)
    ops = collections.Counter(n.op_type for n in optimized.graph.node)
    assert report.attention == 2 and report.unfused_attention == [] and ops["Attention"] == 2
    assert report.layer_norm == 5 and report.optimizer["SkipLayerNormalization"] >= 4
    assert report.metrics()["attention_fused"] == 2
    session = _session(optimized)
    for valid in ([SEQ, SEQ], [5, 11]):  # no padding, and right padding of different lengths
        feed = _feed(valid)
        result = compare(run_bundle(bert_bundle, feed), session.run(None, feed), atol=1e-4, rtol=1e-3)
        assert result.passed, (valid, result)


def test_the_mask_matters_a_wrong_length_is_caught(bert_bundle):
    """The comparison would see a mask that were ignored: lengths 5 and 11 against full length."""
    fused, _ = fuse_transformer(to_onnx(bert_bundle), bert_bundle)
    session = _session(fused)
    short, full = _feed([5, 11]), _feed([SEQ, SEQ])
    assert not compare(run_bundle(bert_bundle, short), session.run(None, full), atol=1e-4, rtol=1e-3).passed


def test_a_model_without_attention_is_left_alone(tmp_path):
    from pipeline.model.zoo_bundle import zoo_bundle

    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    model = to_onnx(bundle)
    before = [n.op_type for n in model.graph.node]
    fused, report = fuse_transformer(model, bundle)
    assert not is_transformer(bundle) and report.attention == 0 and report.layer_norm == 0
    assert [n.op_type for n in fused.graph.node] == before


def test_an_attention_block_that_does_not_match_is_served_as_exported_with_a_warning(bert_bundle, monkeypatch):
    import pipeline.onnx.transformer_fusion as fusion
    from pipeline.targets import TARGETS

    monkeypatch.setattr(fusion, "_match_attention", lambda g, node: None)
    with TARGETS.get("onnxruntime")(api="symbol") as session:
        session.deploy(bert_bundle)
        assert session.deploy_metrics["attention_fused"] == 0 and session.deploy_metrics["attention_unfused"] == 2
        (warning,) = [d for d in session.deploy_diagnostics if d.code != "EI913"]  # EI913: the exporter's own
        assert all(d.severity == "warning" for d in session.deploy_diagnostics)
        assert warning.code == "ORT104" and warning.severity == "warning" and "valatt" in warning.node
        feed = _feed([5, 11])
        assert compare(run_bundle(bert_bundle, feed), session.infer(feed), atol=1e-4, rtol=1e-3).passed


@pytest.mark.parametrize("name, layers", [("roberta_12_768_12", 2), ("distilbert_6_768_12", 2)])
def test_other_bert_family_models_fuse_and_match_mxnet(name, layers, tmp_path):
    """RoBERTa (no token types) and DistilBERT (no token types, no pooler): other input lists, the
    same attention; the MXNet graph decides what is fused, not BERT's names."""
    import mxnet as mx

    from pipeline.model.resolve import default_zoo_inputs, zoo_block
    from pipeline.measure.inputs import random_feed

    kwargs = {"num_layers": layers, "hparam_allow_override": True}
    specs = [dataclasses.replace(s, shape=(BATCH, SEQ) if len(s.shape) == 2 else (BATCH,),
                                 range=(1, SEQ + 1) if len(s.shape) == 1 else s.range)
             for s in default_zoo_inputs(name, kwargs)]
    mx.random.seed(0)
    bundle = export_block(zoo_block(name, kwargs), specs, tmp_path)
    fused, report = fuse_transformer(to_onnx(bundle), bundle)
    optimized = optimize_with_onnxruntime(fused, report.num_heads, report.hidden_size, report)
    assert report.attention == layers and report.unfused_attention == []
    assert collections.Counter(n.op_type for n in optimized.graph.node)["Attention"] == layers
    session = _session(optimized)
    for seed in range(2):
        feed = random_feed(bundle.inputs, seed=seed)
        result = compare(run_bundle(bundle, feed), session.run(None, feed), atol=1e-4, rtol=1e-3)
        assert result.passed, (name, seed, result)
