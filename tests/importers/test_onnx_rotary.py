"""RotaryEmbedding-23 against ONNX Runtime: halves and interleaved pairs, partial rotary dim."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

B, H, S, D, P = 2, 3, 4, 8, 10

CASES = [
    Case("RotaryEmbedding", (23,), {"x": rand(B, H, S, D), "pos": np.array([[0, 1, 2, 3], [5, 6, 7, 8]], np.int64)},
         {"cos": rand(P, D // 2, seed=1), "sin": rand(P, D // 2, seed=2)}, order=("x", "cos", "sin", "pos")),
    Case("RotaryEmbedding", (23,), {"x": rand(B, S, H * D)}, {"cos": rand(B, S, 2, seed=1),
                                                               "sin": rand(B, S, 2, seed=2)},
         attrs={"num_heads": H, "interleaved": 1, "rotary_embedding_dim": 4}, name="3d_interleaved_partial"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_rotary_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
