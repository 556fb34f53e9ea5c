"""Normalizations and Dropout (atol 1e-4: mean/variance reductions reorder sums)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(2, 4, 5, 6, low=-2, high=2)
C = 4
XZ = X.copy()
XZ[0, :, 1, 2] = 0.0  # a zero vector along axis 1: ONNX Runtime leaves it 0, not 0/0
XZ[1, 0, 2, :] = 0.0  # and along the last axis

CASES = [
    Case("BatchNormalization", (7, 9, 14, 15), {"x": X},
         {"s": rand(C, seed=1), "b": rand(C, seed=2), "m": rand(C, seed=3), "v": rand(C, seed=4, low=0.5, high=2)},
         atol=1e-4),
    Case("BatchNormalization", (15,), {"x": X, "s": rand(C, seed=1), "b": rand(C, seed=2), "m": rand(C, seed=3),
                                       "v": rand(C, seed=4, low=0.5, high=2)}, atol=1e-4, name="dynamic_stats"),
    Case("InstanceNormalization", (6, 22), {"x": X}, {"s": rand(C, seed=1), "b": rand(C, seed=2)}, atol=1e-4),
    Case("LayerNormalization", (17,), {"x": X}, {"s": rand(6, seed=1), "b": rand(6, seed=2)}, atol=1e-4),
    Case("LayerNormalization", (17,), {"x": X}, {"s": rand(5, 6, seed=1)}, attrs={"axis": 2}, atol=1e-4,
         name="two_axes_no_bias"),
    Case("LayerNormalization", (17,), {"x": X}, {"s": rand(6, seed=1), "b": rand(6, seed=2)}, outputs=3,
         atol=1e-4, name="stats"),
    Case("GroupNormalization", (18,), {"x": X}, {"s": rand(2, seed=1), "b": rand(2, seed=2)},
         attrs={"num_groups": 2}, atol=1e-4),
    Case("GroupNormalization", (21,), {"x": X}, {"s": rand(C, seed=1), "b": rand(C, seed=2)},
         attrs={"num_groups": 2}, atol=1e-4, name="per_channel"),
    Case("RMSNormalization", (23,), {"x": X}, {"s": rand(6, seed=1)}, atol=1e-4),
    Case("LRN", (1, 13), {"x": X}, attrs={"size": 3, "alpha": 0.01, "beta": 0.7, "bias": 1.5}, atol=1e-4),
    Case("MeanVarianceNormalization", (9,), {"x": X}, atol=1e-4),
    Case("LpNormalization", (1, 22), {"x": XZ}, attrs={"axis": 1}, atol=1e-6),
    Case("LpNormalization", (1,), {"x": XZ}, attrs={"axis": -1, "p": 1}, atol=1e-6, name="p1_last_axis"),
    Case("Dropout", (7, 10, 12), {"x": X}),
    Case("Dropout", (13, 22), {"x": X}, {"r": np.array(0.3, np.float32)}, outputs=2, name="mask"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_norm_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
