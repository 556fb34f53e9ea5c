"""Einsum against ONNX Runtime: attention-style contractions, reductions, chains (atol 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

CASES = [
    Case("Einsum", (12,), {"q": rand(2, 3, 4, 5), "k": rand(2, 3, 6, 5, seed=1)},
         attrs={"equation": "bhqd,bhkd->bhqk"}, name="attention"),
    Case("Einsum", (12,), {"a": rand(3, 4), "b": rand(4, 5, seed=1)}, attrs={"equation": "ij,jk"}, name="implicit"),
    Case("Einsum", (12,), {"a": rand(3, 4)}, attrs={"equation": "ij->ji"}, name="transpose"),
    Case("Einsum", (12,), {"a": rand(3, 4)}, attrs={"equation": "ij->"}, name="sum_all"),
    Case("Einsum", (12,), {"a": rand(2, 3, 4), "b": rand(4, 5, seed=1)}, attrs={"equation": "bij,jk->bik"},
         name="shared_weight"),
    Case("Einsum", (12,), {"a": rand(3, 4), "b": rand(4, 5, seed=1), "c": rand(5, 2, seed=2)},
         attrs={"equation": "ij,jk,kl->il"}, name="chain"),
    Case("Einsum", (12,), {"a": rand(3, 4), "b": rand(5, 6, seed=1)}, attrs={"equation": "ij,kl->ik"},
         name="outer_with_sums"),
    Case("Einsum", (12,), {"a": np.arange(6, dtype=np.int64).reshape(2, 3),
                           "b": np.arange(3, dtype=np.int64)}, attrs={"equation": "ij,j->i"}, name="int64"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_einsum_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
