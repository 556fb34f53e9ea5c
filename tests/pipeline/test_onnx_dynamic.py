"""Typed inputs reach the ONNX file and the random feed: a range and a dynamic axis, end to end.

A tiny token model (Embedding over token ids + token types, a mean over the sequence, Dense)
declared like a GluonNLP one: float32 ids in [0, vocab), the sequence axis dynamic.
"""
import numpy as np
import onnx
import pytest

from pipeline.measure.inputs import random_feed
from pipeline.model.bundle import TensorSpec
from pipeline.model.resolve import export_block
from pipeline.onnx.export import to_onnx
from pipeline.targets import TARGETS

VOCAB = 50


def _token_model():
    import mxnet as mx
    from mxnet import gluon

    class Tokens(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.words = gluon.nn.Embedding(VOCAB, 8)
            self.types = gluon.nn.Embedding(2, 8)
            self.out = gluon.nn.Dense(3, flatten=False)

        def hybrid_forward(self, F, ids, types):
            return self.out(F.mean(self.words(ids) + self.types(types), axis=1))

    mx.random.seed(0)
    with mx.name.NameManager():
        block = Tokens()
    block.initialize(mx.init.Normal(0.5))
    return block


SPECS = [TensorSpec("data0", (2, 16), "float32", range=(0, VOCAB), integer=True, dynamic=(0, 1)),
         TensorSpec("data1", (2, 16), "float32", range=(0, 2), integer=True, dynamic=(0, 1))]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return export_block(_token_model(), SPECS, tmp_path_factory.mktemp("tokens"))


def test_dynamic_axes_are_symbolic_and_tied_in_the_onnx_file(bundle):
    model = to_onnx(bundle)
    dims = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in model.graph.input}
    assert dims == {"data0": ["batch", "dyn1_16"], "data1": ["batch", "dyn1_16"]}
    assert all(vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for vi in model.graph.input)


def test_the_random_feed_draws_the_declared_range_at_both_sizes(bundle):
    first = random_feed(bundle.inputs, seed=0)
    second = random_feed([s.resized() for s in bundle.inputs], seed=0, batch_index=1)
    assert second["data0"].shape == (3, 32) and second["data1"].shape == (3, 32)  # seq x 2, batch + 1
    for feed in (first, second):
        assert feed["data0"].max() < VOCAB and feed["data0"].max() >= 10  # the vocabulary, not [0, 10)
        assert np.all(feed["data0"] == np.round(feed["data0"])) and set(np.unique(feed["data1"])) <= {0.0, 1.0}


@pytest.mark.parametrize("target", ["onnxruntime", "openvino", "cpu"])
def test_one_deployment_serves_both_sizes(bundle, target):
    """The declared shape and the second size through one session, each against MXNet."""
    from pipeline.graph import run_bundle

    cls = TARGETS.get(target)
    if not cls.is_available():
        pytest.skip(f"{target} not installed")
    feeds = [random_feed(bundle.inputs, seed=1)]
    feeds.append(random_feed([s.resized() for s in bundle.inputs], seed=1, batch_index=1))
    with cls(api="symbol") as session:
        session.deploy(bundle)
        for feed in feeds:
            (got,) = session.infer(feed)
            (ref,) = run_bundle(bundle, feed)
            assert got.shape == ref.shape == (feed["data0"].shape[0], 3)
            np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-3)


def test_an_undeclared_axis_stays_refused(bundle):
    from pipeline.core.errors import TargetError

    with TARGETS.get("cpu")(api="symbol") as session:
        session.deploy(bundle)
        with pytest.raises(TargetError) as err:
            session.infer({"data0": np.zeros((2, 16, 1), np.float32), "data1": np.zeros((2, 16, 1), np.float32)})
    assert err.value.code == "TGT005"


def test_accelerators_refuse_dynamic_axes(bundle):
    from pipeline.core.errors import TargetError

    with pytest.raises(TargetError) as err:
        TARGETS.get("eia1.large")(api="symbol").deploy(bundle)
    assert err.value.code == "TGT009"


def _out_of_table():
    """An Embedding of 5 rows, fed ids past both ends of it; MXNet's output (it clips them)."""
    import mxnet as mx

    from pipeline.graph import run_bundle
    from pipeline.model.bundle import ModelBundle

    sym = mx.sym.Embedding(mx.sym.var("ids"), input_dim=5, output_dim=3, name="embed0")
    spec = TensorSpec("ids", (2, 4), range=(-3, 9), integer=True, dynamic=(1,))  # past both ends
    table = np.arange(1, 16, dtype=np.float32).reshape(5, 3)  # no zero row: a zeros answer is wrong
    bundle = ModelBundle.from_symbol(sym, {"embed0_weight": table}, {}, [spec])
    feed = random_feed([spec.resized()], seed=0)
    assert feed["ids"].min() < 0 and feed["ids"].max() > 4
    (ref,) = run_bundle(bundle, feed)
    return bundle, feed, ref


def test_clip_indices_keeps_mxnets_embedding_clipping():
    """Ids past the table: MXNet clips them; the plain export refuses them on ONNX Runtime."""
    from pipeline.core.errors import MxdeployError

    bundle, feed, ref = _out_of_table()
    with TARGETS.get("onnxruntime")(api="symbol", clip_indices=True) as session:
        np.testing.assert_array_equal(session.deploy(bundle).infer(feed)[0], ref)
    with pytest.raises((MxdeployError, Exception)) as err:
        with TARGETS.get("onnxruntime")(api="symbol") as session:
            session.deploy(bundle).infer(feed)
    assert "out of" in str(err.value) or "bounds" in str(err.value)


def test_clip_indices_keeps_mxnets_embedding_clipping_on_openvino():
    """OpenVINO does not refuse such ids, it answers differently; clip_indices makes it MXNet's answer."""
    bundle, feed, ref = _out_of_table()
    with TARGETS.get("openvino")(api="symbol", clip_indices=True) as session:
        np.testing.assert_array_equal(session.deploy(bundle).infer(feed)[0], ref)
    with TARGETS.get("openvino")(api="symbol") as session:
        plain = session.deploy(bundle).infer(feed)[0]
    outside = (feed["ids"] < 0) | (feed["ids"] > 4)
    assert not np.array_equal(plain[outside], ref[outside])  # the option is what keeps MXNet's clipping
    np.testing.assert_array_equal(plain[~outside], ref[~outside])
