"""Activations, softmax family and Clip against ONNX Runtime (atol 1e-5, Gelu 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(2, 3, 4, 5, low=-3, high=3)

CASES = [
    Case("Relu", (6, 13, 14), {"x": X}),
    Case("Sigmoid", (6, 13), {"x": X}),
    Case("Tanh", (6, 13), {"x": X}),
    Case("LeakyRelu", (6, 16), {"x": X}, attrs={"alpha": 0.2}),
    Case("PRelu", (7, 9, 16), {"x": X}, {"slope": rand(3, 1, 1, seed=1)}),
    Case("Elu", (6, 22), {"x": X}, attrs={"alpha": 0.7}),
    Case("Selu", (6, 22), {"x": X}),
    Case("Celu", (12,), {"x": X}, attrs={"alpha": 2.0}),
    Case("HardSigmoid", (6, 22), {"x": X}),
    Case("HardSwish", (14, 22), {"x": X}),
    Case("Softplus", (1, 22), {"x": X}),
    Case("Softsign", (1, 22), {"x": X}),
    Case("Mish", (18, 22), {"x": X}, atol=1e-5),
    Case("ThresholdedRelu", (10, 22), {"x": X}, attrs={"alpha": 0.5}),
    Case("Shrink", (9,), {"x": X}, attrs={"lambd": 0.6, "bias": 0.1}),
    Case("Gelu", (20,), {"x": X}),
    Case("Gelu", (20,), {"x": X}, attrs={"approximate": "tanh"}, name="tanh"),
    Case("Softmax", (1, 11, 13), {"x": X}),
    Case("Softmax", (1, 11, 13), {"x": X}, attrs={"axis": 2}, name="axis2"),
    Case("LogSoftmax", (1, 11, 13), {"x": X}, attrs={"axis": 1}),
    Case("Hardmax", (1, 11, 13), {"x": X}, attrs={"axis": 1}),
    Case("Hardmax", (13,), {"x": X}, name="last"),
    Case("Clip", (6,), {"x": X}, attrs={"min": -0.5, "max": 0.5}),
    Case("Clip", (11, 12, 13), {"x": X}, {"lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)},
         name="relu6"),
    Case("Clip", (11, 13), {"x": X}, order=("x", "", "hi"), consts={"hi": np.array(0.3, np.float32)},
         name="max_only"),
    Case("Clip", (13,), {"x": X, "lo": np.array(-0.2, np.float32)}, order=("x", "lo"), name="dynamic_min"),
    Case("Clip", (12, 13), {"x": (X * 10).astype(np.int32)}, {"lo": np.array(-5, np.int32)}, name="int"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_activation_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
