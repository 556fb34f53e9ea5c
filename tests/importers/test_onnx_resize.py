"""Resize (10/11/13/18/19) and Upsample (7/9) in every mode against ONNX Runtime (atol 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(1, 2, 5, 6)
F32 = np.float32


def _scales(*s):
    return np.array(s, F32)


CASES = [
    Case("Resize", (10,), {"x": X}, {"s": _scales(1, 1, 2, 1.5)}, attrs={"mode": "nearest"}, name="v10_nearest"),
    Case("Resize", (11, 13), {"x": X}, {"roi": np.array([], F32), "s": _scales(1, 1, 2, 2)},
         attrs={"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
         name="nearest_asymmetric"),
    Case("Resize", (11, 13, 18, 19), {"x": X}, {"roi": np.array([], F32), "s": _scales(1, 1, 1.7, 0.6)},
         attrs={"mode": "linear"}, name="linear_half_pixel"),
    Case("Resize", (13,), {"x": X}, {"sizes": np.array([1, 2, 9, 4], np.int64)}, order=("x", "", "", "sizes"),
         attrs={"mode": "linear", "coordinate_transformation_mode": "align_corners"}, name="align_corners_sizes"),
    Case("Resize", (13,), {"x": X}, {"s": _scales(1, 1, 0.8, 1.4)}, order=("x", "", "s"),
         attrs={"mode": "cubic", "coordinate_transformation_mode": "pytorch_half_pixel"}, name="cubic"),
    Case("Resize", (18,), {"x": X}, {"s": _scales(0.6, 0.5)}, order=("x", "", "s"),
         attrs={"mode": "linear", "antialias": 1, "axes": [2, 3]}, name="antialias_axes"),
    Case("Resize", (18,), {"x": X}, {"sizes": np.array([8, 8], np.int64)}, order=("x", "", "", "sizes"),
         attrs={"mode": "nearest", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}, name="aspect"),
    Case("Resize", (19,), {"x": X}, {"s": _scales(1, 1, 1.5, 1.3)}, order=("x", "", "s"),
         attrs={"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}, name="symmetric"),
    Case("Upsample", (9,), {"x": X}, {"s": _scales(1, 1, 2, 3)}, attrs={"mode": "nearest"}),
    Case("Upsample", (9,), {"x": X}, {"s": _scales(1, 1, 2, 2)}, attrs={"mode": "linear"}, name="linear"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_resize_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)


def test_tf_crop_and_resize_matches_the_onnx_reference(tmp_path):
    """ONNX Runtime 1.32 disagrees with the spec's reference for a 4-D roi with extrapolation (its
    backend tests pass against the reference outputs, and so do we), so this mode is checked
    against onnx.reference.ReferenceEvaluator instead."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from onnx_in_parity import case_model, compare, run_mxnet

    case = Case("Resize", (13,), {"x": X}, {"roi": np.array([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2], F32),
                                            "s": _scales(1, 1, 1.2, 1.0)},
                attrs={"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
                       "extrapolation_value": 3.0})
    model = case_model(case, 13)
    onnx.save(model, str(tmp_path / "model.onnx"))
    compare(ReferenceEvaluator(model).run(None, case.inputs), run_mxnet(tmp_path / "model.onnx", case.inputs), 1e-5)


def test_upsample_opset7_attribute_scales(tmp_path):
    """Upsample-7 takes scales as an attribute; ONNX Runtime's kernel reads them the same way."""
    check(Case("Upsample", (7,), {"x": X}, attrs={"mode": "nearest", "scales": [1.0, 1.0, 2.0, 2.0]}), 7, tmp_path)


COVERED = [("Upsample", 7)]
