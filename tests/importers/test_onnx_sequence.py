"""TopK, CumSum and Trilu (exact up to float rounding, atol 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(3, 6)
# Ties: five distinct values over 600 (MXNet's own topk orders equal values arbitrarily;
# ONNX puts the lower index first), with -0.0 beside 0 and both infinities among them.
TIED = np.round(rand(2, 600, low=0, high=4)).astype(np.float32)
TIED[0, :6] = [0.0, -0.0, np.inf, -np.inf, np.inf, -np.inf]

CASES = [
    Case("TopK", (1,), {"x": X}, attrs={"k": 2}, outputs=2),
    Case("TopK", (10, 11), {"x": X}, {"k": np.array([3], np.int64)}, attrs={"axis": 1},
         outputs=2, name="input_k"),
    Case("TopK", (11,), {"x": X}, {"k": np.array([2], np.int64)}, attrs={"axis": 0, "largest": 0}, outputs=2,
         name="smallest"),
    Case("TopK", (11,), {"x": TIED}, {"k": np.array([500], np.int64)}, outputs=2, atol=0, name="ties"),
    Case("TopK", (11,), {"x": TIED}, {"k": np.array([300], np.int64)}, attrs={"largest": 0}, outputs=2, atol=0,
         name="ties_smallest"),
    Case("TopK", (11,), {"x": np.round(rand(600, 2, low=-3, high=3)).astype(np.int32)},
         {"k": np.array([200], np.int64)}, attrs={"axis": 0}, outputs=2, atol=0, name="ties_int32"),
    Case("CumSum", (11, 14), {"x": X}, {"a": np.array(1, np.int64)}),
    Case("CumSum", (14,), {"x": X}, {"a": np.array(0, np.int64)}, attrs={"exclusive": 1, "reverse": 1},
         name="exclusive_reverse"),
    Case("CumSum", (14,), {"x": np.arange(12, dtype=np.int64).reshape(3, 4)}, {"a": np.array(-1, np.int64)},
         name="int64"),
    Case("Trilu", (14,), {"x": rand(2, 4, 5)}),
    Case("Trilu", (14,), {"x": rand(2, 4, 5)}, {"k": np.array(-1, np.int64)}, attrs={"upper": 0}, name="lower"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_sequence_ops_match_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
