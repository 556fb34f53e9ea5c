"""CenterCropPad, ReverseSequence and Compress against ONNX Runtime (exact selections)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

CASES = [
    Case("CenterCropPad", (18,), {"x": rand(5, 6, 3)}, {"s": np.array([3, 9], np.int64)}, attrs={"axes": [0, 1]}),
    Case("ReverseSequence", (10,), {"x": rand(4, 3, 2)}, {"l": np.array([4, 1, 3], np.int64)}),
    Case("ReverseSequence", (10,), {"x": rand(3, 4, 2)}, {"l": np.array([1, 4, 2], np.int64)},
         attrs={"batch_axis": 0, "time_axis": 1}, name="batch_major"),
    Case("Compress", (9, 11), {"x": rand(3, 4)}, {"c": np.array([True, False, True])}, attrs={"axis": 0}),
    Case("Compress", (11,), {"x": rand(3, 4)}, {"c": np.array([False, True, True, False, True])}, name="flat"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_select_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
