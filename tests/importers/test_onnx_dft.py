"""DFT against ONNX Runtime: real and complex input, inverse, onesided, dft_length (atol 1e-4:
sums of up to 16 products in float32)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

REAL = rand(2, 8, 3, 1)
CPLX = rand(2, 8, 3, 2, seed=1)

CASES = [
    Case("DFT", (17,), {"x": REAL}, attrs={"axis": 1}, atol=1e-4),
    Case("DFT", (17,), {"x": CPLX}, attrs={"axis": 2, "inverse": 1}, atol=1e-4, name="complex_inverse"),
    Case("DFT", (20,), {"x": REAL}, {"len": np.array(10, np.int64), "axis": np.array(1, np.int64)},
         attrs={"onesided": 1}, atol=1e-4, name="onesided_padded"),
    Case("DFT", (20,), {"x": CPLX}, {"len": np.array(6, np.int64), "axis": np.array(-3, np.int64)},
         atol=1e-4, name="truncated"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_dft_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
