"""Write examples/mobile-block.onnx: a small MobileNet-style CNN built with onnx.helper.

It stands in for "an ONNX model exported by another framework" (nothing is downloaded):
Conv + BatchNorm + Relu, a depthwise Conv with Clip (ReLU6), HardSwish, a pointwise Conv,
Resize, global average pooling, Flatten and Gemm, at opset 14, with seeded random weights.
Run: python examples/make_onnx_examples.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.core import atomic  # noqa: E402

HERE = Path(__file__).resolve().parent


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def mobile_block(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w = lambda *shape: rng.standard_normal(shape).astype("float32") * np.sqrt(2.0 / np.prod(shape[1:]))  # noqa: E731
    inits = [
        _init("stem_w", w(16, 3, 3, 3)), _init("stem_b", np.zeros(16)),
        _init("bn_scale", rng.uniform(0.5, 1.5, 16)), _init("bn_bias", rng.normal(0, 0.1, 16)),
        _init("bn_mean", rng.normal(0, 0.1, 16)), _init("bn_var", rng.uniform(0.5, 1.5, 16)),
        _init("dw_w", w(16, 1, 3, 3)), _init("dw_b", np.zeros(16)),
        _init("pw_w", w(32, 16, 1, 1)), _init("pw_b", np.zeros(32)),
        _init("fc_w", w(10, 32)), _init("fc_b", np.zeros(10)),
        _init("relu6_min", np.array(0.0)), _init("relu6_max", np.array(6.0)),
        _init("scales", np.array([1.0, 1.0, 2.0, 2.0])),
    ]
    nodes = [
        helper.make_node("Conv", ["data", "stem_w", "stem_b"], ["stem"], pads=[1, 1, 1, 1], strides=[2, 2], name="stem"),
        helper.make_node("BatchNormalization", ["stem", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["relu"], name="relu"),
        helper.make_node("Conv", ["relu", "dw_w", "dw_b"], ["dw"], pads=[1, 1, 1, 1], group=16, name="depthwise"),
        helper.make_node("Clip", ["dw", "relu6_min", "relu6_max"], ["relu6"], name="relu6"),
        helper.make_node("Conv", ["relu6", "pw_w", "pw_b"], ["pw"], name="pointwise"),
        helper.make_node("HardSwish", ["pw"], ["hswish"], name="hardswish"),
        helper.make_node("Resize", ["hswish", "", "scales"], ["up"], mode="nearest", name="upsample"),
        helper.make_node("GlobalAveragePool", ["up"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="classifier"),
    ]
    graph = helper.make_graph(nodes, "mobile_block",
                              [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="onnx.helper")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    target = HERE / "mobile-block.onnx"
    atomic.write_bytes(target, mobile_block().SerializeToString())
    print(f"wrote {target}")
