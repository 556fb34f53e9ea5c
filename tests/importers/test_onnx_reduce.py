"""Reductions and ArgMax/ArgMin: axes as attribute (before 13/18) and as input (after)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(2, 3, 4, 5, low=0.1, high=2)
OPS = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
       "ReduceLogSum", "ReduceLogSumExp")

CASES = []
for op in OPS:
    old = (1, 11, 13)
    CASES.append(Case(op, old, {"x": X}, attrs={"axes": [1, -1], "keepdims": 1}))
    CASES.append(Case(op, (11,), {"x": X}, attrs={"keepdims": 0}, name="all"))
    new = (18, 20) if op in ("ReduceMax", "ReduceMin") else (18,)
    CASES.append(Case(op, new, {"x": X}, {"axes": np.array([2], np.int64)}, attrs={"keepdims": 0}, name="input"))
CASES += [
    Case("ReduceSum", (1, 11), {"x": X}, attrs={"axes": [0, 2]}),
    Case("ReduceSum", (13,), {"x": X}, {"axes": np.array([-1], np.int64)}, attrs={"keepdims": 0}, name="input"),
    Case("ReduceSum", (13,), {"x": X}, attrs={"noop_with_empty_axes": 1}, name="noop"),
    Case("ReduceMean", (18,), {"x": X}, name="no_axes"),
    Case("ArgMax", (1, 11, 12, 13), {"x": X}, attrs={"axis": 2}),
    Case("ArgMin", (1, 11, 12, 13), {"x": X}, attrs={"axis": -1, "keepdims": 0}),
    Case("ArgMax", (12, 13), {"x": np.array([[1, 3, 3], [2, 2, 0]], np.float32)},
         attrs={"axis": 1, "select_last_index": 1}, name="last"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_reduce_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
