"""Gemm and MatMul: FullyConnected for static weights, dot/batch_dot otherwise (atol 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

CASES = [
    Case("Gemm", (7, 9, 11, 13), {"a": rand(4, 6)}, {"b": rand(5, 6, seed=1), "c": rand(5, seed=2)},
         attrs={"transB": 1}, name="linear"),
    Case("Gemm", (11, 13), {"a": rand(6, 4)}, {"b": rand(6, 5, seed=1), "c": rand(4, 1, seed=2)},
         attrs={"transA": 1, "alpha": 0.5, "beta": 2.0}, name="trans_a"),
    Case("Gemm", (13,), {"a": rand(4, 6), "b": rand(6, 5, seed=1)}, name="dynamic_no_c"),
    Case("Gemm", (13,), {"a": rand(4, 6)}, {"b": rand(6, 5, seed=1), "c": np.array(0.5, np.float32)},
         name="scalar_c"),
    Case("MatMul", (1, 9, 13), {"a": rand(2, 3, 4, 6)}, {"b": rand(6, 5, seed=1)}, name="weight"),
    Case("MatMul", (13,), {"a": rand(2, 3, 4, 6), "b": rand(3, 6, 5, seed=1)}, name="broadcast"),
    Case("MatMul", (13,), {"a": rand(6), "b": rand(2, 6, 5, seed=1)}, name="vector_left"),
    Case("MatMul", (13,), {"a": rand(2, 4, 6), "b": rand(6, seed=1)}, name="vector_right"),
    Case("MatMul", (13,), {"a": rand(4, 6), "b": rand(6, 3, seed=1)}, name="2d"),
    Case("MatMul", (13,), {"a": np.arange(12, dtype=np.int64).reshape(3, 4),
                           "b": np.arange(8, dtype=np.int64).reshape(4, 2)}, name="int64"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_matmul_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
