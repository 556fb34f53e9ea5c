"""Quantization ops against ONNX Runtime: integer outputs must match exactly (atol 0); the
float results of DequantizeLinear within 1e-6."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(2, 3, 4, low=-3, high=3)
U8, I8 = np.uint8, np.int8
SCALE = np.array(0.02, np.float32)

CASES = [
    Case("QuantizeLinear", (10, 13, 19, 21, 23), {"x": X}, {"s": SCALE, "z": np.array(128, U8)}, atol=0),
    Case("QuantizeLinear", (13, 23), {"x": X}, {"s": np.array([0.02, 0.05, 0.1], np.float32),
                                               "z": np.array([0, -3, 5], I8)}, atol=0, name="per_axis_int8"),
    Case("QuantizeLinear", (21,), {"x": rand(2, 6)}, {"s": np.array([[0.01, 0.02], [0.03, 0.04]], np.float32),
                                                     "z": np.array([[1, 2], [3, 4]], U8)},
         attrs={"axis": 1, "block_size": 3}, atol=0, name="blocked"),
    Case("DequantizeLinear", (10, 13, 19, 21, 23), {"x": np.arange(24, dtype=U8).reshape(2, 3, 4) * 10},
         {"s": SCALE, "z": np.array(100, U8)}, atol=1e-6),
    Case("DequantizeLinear", (13,), {"x": (np.arange(24) - 12).astype(I8).reshape(2, 3, 4)},
         {"s": np.array([0.1, 0.2, 0.3], np.float32)}, atol=1e-6, name="per_axis"),
    Case("DynamicQuantizeLinear", (11,), {"x": X}, outputs=3, atol=1e-6),
    Case("QLinearMatMul", (10, 21), {"a": np.arange(12, dtype=U8).reshape(3, 4) * 20,
                                     "b": np.arange(8, dtype=U8).reshape(4, 2) * 30},
         {"sa": np.array(0.01, np.float32), "za": np.array(100, U8), "sb": np.array(0.02, np.float32),
          "zb": np.array(110, U8), "sy": np.array(0.1, np.float32), "zy": np.array(120, U8)},
         order=("a", "sa", "za", "b", "sb", "zb", "sy", "zy"), atol=0),
    Case("MatMulInteger", (10,), {"a": np.arange(12, dtype=U8).reshape(3, 4),
                                  "b": np.arange(8, dtype=U8).reshape(4, 2)},
         {"za": np.array(3, U8), "zb": np.array(2, U8)}, atol=0),
    Case("ConvInteger", (10,), {"x": np.arange(32, dtype=U8).reshape(1, 2, 4, 4)},
         {"w": np.arange(36, dtype=U8).reshape(2, 2, 3, 3), "zx": np.array(5, U8)}, attrs={"pads": [1, 1, 1, 1]},
         atol=0),
    Case("QLinearConv", (10,), {"x": np.arange(32, dtype=U8).reshape(1, 2, 4, 4) * 7},
         {"sx": np.array(0.05, np.float32), "zx": np.array(60, U8),
          "w": (np.arange(36) % 11 - 5).astype(I8).reshape(2, 2, 3, 3),
          "sw": np.array([0.1, 0.2], np.float32), "zw": np.array([0, 0], I8), "sy": np.array(0.5, np.float32),
          "zy": np.array(100, U8), "b": np.array([10, -20], np.int32)},
         order=("x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"), attrs={"pads": [1, 1, 1, 1]}, atol=0),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_quantize_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
