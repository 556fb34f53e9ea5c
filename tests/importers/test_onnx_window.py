"""Spectral windows against ONNX Runtime (atol 1e-6: computed in float64, stored in float32)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params

CASES = [Case(op, (17,), {}, {"n": np.array(10, np.int64)}, attrs={"periodic": p}, atol=1e-6, name=f"periodic{p}")
         for op in ("HannWindow", "HammingWindow", "BlackmanWindow") for p in (0, 1)]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_window_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
