"""The references the source stages register: what verify compares a deployment against."""
import os

import mxnet as mx
import numpy as np

import stages.sources.checkpoint  # noqa: F401
import stages.sources.gluon  # noqa: F401
from pipeline.model.references import REFERENCES
from stages.sources.checkpoint import CheckpointParams
from stages.sources.gluon import GluonParams


def test_both_source_kinds_have_a_reference():
    assert {"gluon", "checkpoint"} <= set(REFERENCES.names())


def test_gluon_reference_runs_the_block_imperatively(make_runner):
    runner = make_runner([("data", (2, 3, 8, 8))])
    bundle, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet"))
    reference = REFERENCES.get("gluon")(bundle.metadata["reference"], runner.run_dir)
    assert not reference.block._active  # not hybridized: the imperative path is the baseline
    feed = {"data": np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)}
    first = reference.run(feed)[0]
    np.testing.assert_array_equal(first, reference.run(feed)[0])
    # the reference holds the source's weights: equal to the exported graph bound by hand
    args, auxs = bundle.mx_params()
    args["data"] = mx.nd.array(feed["data"])
    exe = bundle.symbol().bind(mx.cpu(), args=args, aux_states=auxs, grad_req="null")
    exe.forward(is_train=False)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), first, rtol=1e-5, atol=1e-6)


def test_checkpoint_reference_binds_labels_to_zeros_without_fusion(make_runner, capfd):
    runner = make_runner([("data", (3, 64))])
    bundle, _ = runner.run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    before = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    reference = REFERENCES.get("checkpoint")(bundle.metadata["reference"], runner.run_dir)
    capfd.readouterr()
    out = reference.run({"data": np.ones((3, 64), np.float32)})
    assert "MXNET_SUBGRAPH_BACKEND=NONE is detected" in capfd.readouterr().err
    assert os.environ.get("MXNET_SUBGRAPH_BACKEND") == before  # restored after the bind
    assert reference._exe.arg_dict["softmax_label"].shape == (3,)
    assert not reference._exe.arg_dict["softmax_label"].asnumpy().any()
    assert out[0].shape == (3, 10)
    # a new batch size rebinds rather than failing
    assert reference.run({"data": np.ones((5, 64), np.float32)})[0].shape == (5, 10)
