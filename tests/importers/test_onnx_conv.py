"""Conv and ConvTranspose: auto_pad, asymmetric pads, groups, dilations, 1-D/3-D (atol 1e-4)."""
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(1, 4, 9, 8)

CASES = [
    Case("Conv", (1, 11, 22), {"x": X}, {"w": rand(6, 4, 3, 3, seed=1), "b": rand(6, seed=2)},
         attrs={"pads": [1, 1, 1, 1], "strides": [2, 1]}, atol=1e-4),
    Case("Conv", (11,), {"x": X}, {"w": rand(4, 1, 3, 3, seed=1)}, attrs={"group": 4, "auto_pad": "SAME_UPPER",
                                                                         "strides": [2, 2]}, atol=1e-4,
         name="depthwise_same_upper"),
    Case("Conv", (11,), {"x": X}, {"w": rand(2, 4, 2, 2, seed=1)}, attrs={"auto_pad": "SAME_LOWER"}, atol=1e-4,
         name="same_lower_even"),
    Case("Conv", (11,), {"x": X}, {"w": rand(2, 2, 3, 3, seed=1)}, attrs={"group": 2, "dilations": [2, 2],
                                                                         "pads": [0, 1, 2, 0]}, atol=1e-4,
         name="dilated_asymmetric"),
    Case("Conv", (11,), {"x": rand(2, 3, 10)}, {"w": rand(4, 3, 3, seed=1)}, attrs={"pads": [1, 1]}, atol=1e-4,
         name="1d"),
    Case("Conv", (11,), {"x": rand(1, 2, 5, 6, 4)}, {"w": rand(3, 2, 3, 3, 3, seed=1)}, atol=1e-4, name="3d"),
    Case("ConvTranspose", (1, 11, 22), {"x": rand(1, 4, 5, 6)}, {"w": rand(4, 3, 3, 3, seed=1), "b": rand(3)},
         attrs={"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, atol=1e-4),
    Case("ConvTranspose", (11,), {"x": rand(1, 4, 5, 6)}, {"w": rand(4, 1, 4, 4, seed=1)},
         attrs={"strides": [2, 2], "group": 4, "pads": [1, 2, 2, 1]}, atol=1e-4, name="grouped_asymmetric"),
    Case("ConvTranspose", (11,), {"x": rand(1, 4, 5, 6)}, {"w": rand(4, 2, 3, 3, seed=1)},
         attrs={"strides": [2, 2], "output_shape": [10, 12]}, atol=1e-4, name="output_shape"),
    Case("ConvTranspose", (11,), {"x": rand(1, 4, 5, 6)}, {"w": rand(4, 2, 3, 3, seed=1)},
         attrs={"strides": [2, 2], "output_shape": [12, 14]}, atol=1e-4, name="output_shape_larger"),
    Case("ConvTranspose", (11,), {"x": rand(1, 4, 5, 6)}, {"w": rand(4, 2, 3, 3, seed=1)},
         attrs={"strides": [2, 2], "auto_pad": "SAME_UPPER"}, atol=1e-4, name="same_upper"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_conv_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
