"""Indexing ops: negative indices, scalar indices, batch_dims (exact for the gathered values)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(3, 4, 5)
I64 = np.int64

CASES = [
    Case("Gather", (1, 11, 13), {"x": X}, {"i": np.array([[0, -1], [2, 1]], I64)}, attrs={"axis": 1}),
    Case("Gather", (13,), {"x": X}, {"i": np.array(-2, I64)}, attrs={"axis": 2}, name="scalar"),
    Case("Gather", (13,), {"x": X, "i": np.array([2, 0, -1], I64)}, name="dynamic"),
    Case("GatherElements", (11, 13), {"x": X, "i": np.array([[[0, -1, 2, 1, 0]]] * 2, I64)}, attrs={"axis": 1}),
    Case("GatherND", (11, 12, 13), {"x": X, "i": np.array([[0, 1], [2, -1]], I64)}),
    Case("GatherND", (12, 13), {"x": X, "i": np.array([[1], [3], [0]], I64)}, attrs={"batch_dims": 1},
         name="batch"),
    Case("ScatterND", (11, 13, 16, 18), {"x": X, "i": np.array([[0, 1], [2, 3]], I64), "u": rand(2, 5, seed=7)}),
    Case("ScatterElements", (11, 13, 16, 18), {"x": X, "i": np.array([[[1, 0, 2, 0, 1]]], I64),
                                                "u": rand(1, 1, 5, seed=7)}, attrs={"axis": 0}),
    Case("ScatterND", (16, 18), {"x": X, "i": np.array([[0, 1], [0, 1], [2, 3]], I64), "u": rand(3, 5, seed=7)},
         attrs={"reduction": "add"}, name="add_duplicates"),
    Case("ScatterElements", (16, 18), {"x": X, "i": np.array([[[1, 1, 2, 0, 1]], [[1, 0, 2, 0, 1]]], I64),
                                       "u": rand(2, 1, 5, seed=7)}, attrs={"axis": 0, "reduction": "add"},
         name="add"),
    Case("Scatter", (9,), {"x": X, "i": np.array([[[1, 0, 2, 0, 1]]], I64), "u": rand(1, 1, 5, seed=7)},
         attrs={"axis": 0}),
    Case("OneHot", (9, 11), {"i": np.array([[1, -1], [0, 3]], I64)},
         {"d": np.array(4, I64), "v": np.array([0.5, 2.0], np.float32)}, attrs={"axis": 1}),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_gather_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
