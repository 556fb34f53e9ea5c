"""Models for the ONNX-based target tests, built here so nothing is downloaded.

Zoo models get the zoo's calibrated init (pipeline/model/calibrated_init.py) at the side the
test runs them at: under MXNet's default init their activations shrink layer by layer
(mobilenetv2_1.0 at 64x64 output ~1e-14) and any absolute tolerance would pass.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.model import zoos
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.model.resolve import export_block, zoo_block


def calibrated_zoo_bundle(name: str, side: int, folder: Path, seed: int = 0) -> ModelBundle:
    inputs = [TensorSpec("data", (1, 3, side, side))]
    block = zoo_block(name, seed=seed)
    zoos.find_zoo(name).calibrate(name, block, inputs, seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return export_block(block, inputs, Path(folder))


def softmax_mlp_bundle(seed: int = 0) -> ModelBundle:
    """A checkpoint-style MLP ending in SoftmaxOutput with its `softmax_label` variable."""
    import mxnet as mx

    data = mx.sym.var("data")
    net = mx.sym.FullyConnected(data, num_hidden=32, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    net = mx.sym.SoftmaxOutput(net, name="softmax")  # adds the variable softmax_label
    rng = np.random.RandomState(seed)
    params = {"fc1_weight": rng.randn(32, 20) * 0.3, "fc1_bias": rng.randn(32) * 0.1,
              "fc2_weight": rng.randn(10, 32) * 0.3, "fc2_bias": rng.randn(10) * 0.1}
    params = {k: mx.nd.array(v.astype(np.float32)) for k, v in params.items()}
    return ModelBundle.from_symbol(net, params, {}, [TensorSpec("data", (4, 20))])


ZOO_SAMPLE_SIDE = 64


def target_test_bundles(folder: Path) -> dict[str, ModelBundle]:
    """The models both ONNX-based target tests compare against MXNet's cpu target."""
    return {"resnet18_v1": calibrated_zoo_bundle("resnet18_v1", ZOO_SAMPLE_SIDE, folder / "r"),
            "mobilenetv2_1.0": calibrated_zoo_bundle("mobilenetv2_1.0", ZOO_SAMPLE_SIDE, folder / "m"),
            "softmax_mlp": softmax_mlp_bundle()}


def uniform_feed(bundle: ModelBundle, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(seed)
    return {s.name: rng.rand(*s.shape).astype(s.dtype) for s in bundle.inputs}


def cpu_reference(bundle: ModelBundle, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    from pipeline.targets.cpu import CpuTarget

    with CpuTarget() as cpu:
        return cpu.deploy(bundle).infer(feed)
