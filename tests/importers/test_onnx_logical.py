"""Comparisons, logical ops and Where (bool results compared exactly)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

A = np.round(rand(2, 3, 4, low=-2, high=2))
B = np.round(rand(3, 1, seed=2, low=-2, high=2))
P = rand(2, 3, 4, seed=3) > 0
Q = rand(3, 4, seed=4) > 0

CASES = [
    Case("Equal", (11, 13, 19), {"a": A, "b": B}),
    Case("Greater", (7, 9, 13), {"a": A, "b": B}),
    Case("Less", (7, 9, 13), {"a": A, "b": B}),
    Case("GreaterOrEqual", (12, 16), {"a": A, "b": B}),
    Case("LessOrEqual", (12, 16), {"a": A, "b": B}),
    Case("Equal", (7, 13), {"a": A.astype(np.int64), "b": B.astype(np.int64)}, name="int"),
    Case("And", (7,), {"p": P, "q": Q}),
    Case("Or", (7,), {"p": P, "q": Q}),
    Case("Xor", (7,), {"p": P, "q": Q}),
    Case("Not", (1,), {"p": P}),
    Case("Where", (9, 16), {"c": P, "a": A, "b": B}),
    Case("Where", (16,), {"c": Q, "a": A.astype(np.int64)}, {"b": np.array(-1, np.int64)}, order=("c", "a", "b"),
         name="int_scalar"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_logical_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
