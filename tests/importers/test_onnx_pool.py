"""Pooling: ceil_mode, count_include_pad, auto_pad and asymmetric pads (atol 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(1, 3, 9, 8)

CASES = [
    Case("MaxPool", (1, 8, 10, 11, 12, 22), {"x": X}, attrs={"kernel_shape": [3, 3], "strides": [2, 2]}),
    Case("MaxPool", (10, 12), {"x": X}, attrs={"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1,
                                               "pads": [1, 1, 1, 1]}, name="ceil"),
    Case("MaxPool", (12,), {"x": X}, attrs={"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER"}, name="same"),
    Case("MaxPool", (12,), {"x": rand(2, 3, 11)}, attrs={"kernel_shape": [3], "pads": [0, 2]}, name="1d_asym"),
    Case("AveragePool", (7, 10, 11, 19, 22), {"x": X}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    Case("AveragePool", (11, 19), {"x": X}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                   "count_include_pad": 1}, name="include_pad"),
    Case("AveragePool", (11,), {"x": X}, attrs={"kernel_shape": [2, 3], "pads": [0, 1, 1, 0]}, name="asymmetric"),
    Case("AveragePool", (11,), {"x": X}, attrs={"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
         name="ceil"),
    Case("LpPool", (2, 11, 18, 22), {"x": X}, attrs={"kernel_shape": [2, 2], "p": 2}),
    Case("MaxPool", (12,), {"x": X}, attrs={"kernel_shape": [2, 3], "dilations": [2, 2], "pads": [1, 0, 0, 1]},
         name="dilated"),
    Case("AveragePool", (19,), {"x": X}, attrs={"kernel_shape": [3, 2], "dilations": [2, 1], "strides": [2, 1],
                                                "pads": [1, 1, 1, 1], "ceil_mode": 1}, name="dilated_ceil"),
    Case("LpPool", (18,), {"x": X}, attrs={"kernel_shape": [3, 3], "p": 3, "pads": [1, 1, 1, 1],
                                           "strides": [2, 2]}, name="p3"),
    Case("MaxPool", (8, 12), {"x": X}, attrs={"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]},
         outputs=2, name="indices"),
    Case("MaxPool", (12,), {"x": X}, attrs={"kernel_shape": [2, 2], "storage_order": 1}, outputs=2,
         name="indices_column_major"),
    Case("MaxPool", (12,), {"x": (X * 100).astype(np.uint8)}, attrs={"kernel_shape": [2, 2]}, name="uint8"),
    Case("RoiAlign", (10, 16), {"x": rand(2, 3, 8, 9)},
         {"rois": np.array([[0.5, 1.0, 6.0, 7.0], [2.0, 0.0, 8.5, 4.5], [1.0, 1.0, 3.0, 3.0]], np.float32),
          "idx": np.array([0, 1, 1], np.int64)}, attrs={"output_height": 3, "output_width": 2, "sampling_ratio": 2,
                                                        "spatial_scale": 0.9}, atol=1e-5),
    Case("RoiAlign", (16,), {"x": rand(1, 2, 8, 9)},
         {"rois": np.array([[0.5, 1.0, 6.0, 7.0]], np.float32), "idx": np.array([0], np.int64)},
         attrs={"output_height": 2, "output_width": 4, "coordinate_transformation_mode": "output_half_pixel"},
         name="adaptive_no_offset"),
    Case("MaxUnpool", (9, 11, 22), {"x": rand(1, 2, 2, 3), "i": np.array([[[[0, 3, 5], [13, 14, 16]],
                                                                          [[18, 21, 23], [31, 33, 35]]]], np.int64)},
         attrs={"kernel_shape": [2, 2], "strides": [2, 2]}),
    Case("GlobalAveragePool", (1, 22), {"x": X}),
    Case("GlobalMaxPool", (1, 22), {"x": X}),
    Case("GlobalLpPool", (2,), {"x": X}, attrs={"p": 2}),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_pool_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
