"""An input declared in a dtype the block does not compute in (pipeline/model/input_casts.py).

The issue's contract declares BERT's valid length `{dtype: int32, range: [1, 17]}`; GluonNLP adds
it to float32 tensors, which MXNet refuses. The export keeps int32 at the graph input (Symbol
and ONNX) with a Cast to float32 after it, and the deployed model matches the block run
imperatively on the same values in float32. A tiny BERT (2 layers, width 32, vocab 100).
"""
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest

pytest.importorskip("gluonnlp")

from pipeline.core.errors import SourceError  # noqa: E402
from pipeline.graph import run_bundle  # noqa: E402
from pipeline.measure.inputs import random_feed  # noqa: E402
from pipeline.model.bundle import TensorSpec  # noqa: E402
from pipeline.model.input_casts import METADATA_KEY  # noqa: E402
from pipeline.model.resolve import default_zoo_inputs, export_block, zoo_block  # noqa: E402
from pipeline.onnx.export import to_onnx  # noqa: E402
from pipeline.targets import TARGETS  # noqa: E402

TINY_BERT = {"num_layers": 2, "units": 32, "hidden_size": 64, "num_heads": 2, "max_length": 64, "embed_size": 32,
             "hparam_allow_override": True, "vocab_size": 100}


def _specs(length_range=(1, 17)):
    """The zoo's BERT inputs with the valid length declared int32, as the issue writes it."""
    ids, types, length = default_zoo_inputs("bert_12_768_12", TINY_BERT)
    return [ids, types, TensorSpec(length.name, length.shape, "int32", range=length_range)]


def _export(specs):
    block = zoo_block("bert_12_768_12", TINY_BERT)
    with tempfile.TemporaryDirectory() as tmp:
        return block, export_block(block, specs, Path(tmp))


@pytest.fixture(scope="module")
def exported():
    return _export(_specs())


def test_the_declared_int32_reaches_the_symbol_and_the_onnx_input(exported):
    _, bundle = exported
    assert bundle.metadata[METADATA_KEY] == {"data2": "float32"}
    assert [s.dtype for s in bundle.inputs] == ["float32", "float32", "int32"]
    cast = [n for n in bundle.graph()["nodes"] if n["op"] == "Cast" and n["name"] == "data2_cast"]
    assert len(cast) == 1 and cast[0]["attrs"]["dtype"] == "float32"
    types = {vi.name: vi.type.tensor_type.elem_type for vi in to_onnx(bundle).graph.input}
    assert types == {"data0": onnx.TensorProto.FLOAT, "data1": onnx.TensorProto.FLOAT,
                     "data2": onnx.TensorProto.INT32}


@pytest.mark.parametrize("target", ["cpu", "onnxruntime"])
def test_the_deployed_model_matches_the_block_run_in_float32(exported, target):
    import mxnet as mx

    block, bundle = exported
    feed = random_feed(bundle.inputs, seed=0)
    assert feed["data2"].dtype == np.int32 and feed["data2"].min() >= 1 and feed["data2"].max() <= 16
    feed["data2"][:] = (3, 16)  # one short sequence: the mask does something
    ref = block(*[mx.nd.array(feed[s.name], dtype="float32") for s in bundle.inputs])
    ref = [r.asnumpy() for r in (ref if isinstance(ref, (list, tuple)) else [ref])]
    with TARGETS.get(target)(api="symbol") as session:
        session.deploy(bundle)
        got = session.infer(feed)
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert np.abs(r).max() > 1e-3
        np.testing.assert_allclose(g, r, atol=1e-4, rtol=1e-3)
    short = run_bundle(bundle, {**feed, "data2": np.array([16, 16], np.int32)})[0]
    assert np.abs(short - ref[0]).max() > 1e-3  # the valid length is read, not ignored


def test_a_range_the_float_cannot_hold_exactly_keeps_the_original_error():
    with pytest.raises(SourceError) as err:
        _export(_specs(length_range=(1, 2 ** 25)))
    assert err.value.code == "SRC102" and "expected int32" in str(err.value)


def test_an_input_the_block_takes_as_declared_is_not_cast():
    """An Embedding takes int32 ids as they are: nothing is cast, no metadata."""
    import mxnet as mx
    from mxnet import gluon

    with mx.name.NameManager():
        block = gluon.nn.Embedding(10, 4)
    block.initialize()
    spec = TensorSpec("data", (2, 3), "int32", range=(0, 10))
    with tempfile.TemporaryDirectory() as tmp:
        bundle = export_block(block, [spec], Path(tmp))
    assert METADATA_KEY not in bundle.metadata
    assert not [n for n in bundle.graph()["nodes"] if n["op"] == "Cast"]
    assert dataclasses.astuple(bundle.inputs[0]) == dataclasses.astuple(spec)
