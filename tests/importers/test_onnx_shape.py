"""Layout ops against ONNX Runtime: inputs moved from attributes to inputs in 10/11/13/18."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

X = rand(2, 3, 4, 5)
I64 = np.int64

CASES = [
    Case("Reshape", (5, 13, 14, 19, 21), {"x": X}, {"s": np.array([0, -1, 5], I64)}),
    Case("Reshape", (14,), {"x": X}, {"s": np.array([6, 20], I64)}, attrs={"allowzero": 1}, name="allowzero"),
    Case("Flatten", (1, 9, 11, 13, 21), {"x": X}, attrs={"axis": 2}),
    Case("Flatten", (13,), {"x": X}, attrs={"axis": 0}, name="axis0"),
    Case("Squeeze", (1, 11), {"x": rand(2, 1, 4, 1)}, attrs={"axes": [1]}),
    Case("Squeeze", (13, 21), {"x": rand(2, 1, 4, 1)}, {"axes": np.array([-1, 1], I64)}, name="input"),
    Case("Squeeze", (13,), {"x": rand(2, 1, 4, 1)}, name="all"),
    Case("Unsqueeze", (1, 11), {"x": X}, attrs={"axes": [0, 5]}),
    Case("Unsqueeze", (13, 21), {"x": X}, {"axes": np.array([-1, 1], I64)}, name="input"),
    Case("Transpose", (1, 13, 21), {"x": X}, attrs={"perm": [0, 2, 3, 1]}),
    Case("Transpose", (13,), {"x": X}, name="default"),
    # mx2onnx's gather_nd: indices padded to 8-D, axes 0 and 7 swapped (MXNet transposes <= 6 axes)
    Case("Transpose", (13,), {"x": rand(3, 1, 1, 1, 1, 1, 1, 4)}, attrs={"perm": [7, 1, 2, 3, 4, 5, 6, 0]},
         name="rank8_gather_nd"),
    Case("Transpose", (13,), {"x": rand(2, 3, 1, 2, 3, 1, 2, 2)}, attrs={"perm": [6, 7, 0, 1, 5, 3, 2, 4]},
         name="rank8_groups"),
    Case("Concat", (4, 11, 13), {"a": X, "b": rand(2, 3, 1, 5, seed=2)}, attrs={"axis": 2}),
    Case("Concat", (13,), {"a": X}, {"b": rand(2, 3, 4, 2, seed=2)}, attrs={"axis": -1}, name="const"),
    Case("Split", (2, 11), {"x": X}, attrs={"axis": 3, "split": [2, 3]}, outputs=2),
    Case("Split", (13,), {"x": X}, {"s": np.array([1, 3], I64)}, attrs={"axis": 2}, outputs=2, name="input"),
    Case("Split", (13,), {"x": X}, attrs={"axis": 1}, outputs=3, name="equal"),
    Case("Split", (18,), {"x": X}, attrs={"axis": 1, "num_outputs": 3}, outputs=3, name="equal"),
    Case("Split", (18,), {"x": X}, attrs={"axis": 3, "num_outputs": 3}, outputs=3, name="uneven"),
    Case("Slice", (1,), {"x": X}, attrs={"starts": [1, 0], "ends": [3, -1], "axes": [2, 3]}),
    Case("Slice", (10, 11, 13), {"x": X},
         {"st": np.array([3, 0], I64), "en": np.array([0, 100], I64), "ax": np.array([2, -1], I64),
          "sp": np.array([-1, 2], I64)}, name="steps"),
    Case("Slice", (13,), {"x": X}, {"st": np.array([-1], I64), "en": np.array([-10**18], I64),
                                    "ax": np.array([3], I64), "sp": np.array([-2], I64)}, name="reverse"),
    Case("Expand", (8, 13), {"x": rand(3, 1)}, {"s": np.array([2, 1, 4], I64)}),
    Case("Expand", (13,), {"x": rand(2, 3, 4)}, {"s": np.array([3, 1], I64)}, name="smaller_target"),
    Case("Tile", (6, 13), {"x": rand(2, 3)}, {"r": np.array([2, 3], I64)}),
    Case("Tile", (13,), {"x": X}, {"r": np.array([2, 1, 3, 2], I64)}, name="4d"),
    Case("DepthToSpace", (1, 11, 13), {"x": rand(1, 8, 2, 3)}, attrs={"blocksize": 2}),
    Case("DepthToSpace", (11, 13), {"x": rand(1, 8, 2, 3)}, attrs={"blocksize": 2, "mode": "CRD"}, name="crd"),
    Case("SpaceToDepth", (1, 13), {"x": rand(1, 2, 4, 6)}, attrs={"blocksize": 2}),
    Case("Pad", (2,), {"x": X}, attrs={"pads": [0, 0, 1, 2, 0, 0, 2, 1], "value": 1.5}),
    Case("Pad", (11, 13, 18, 19, 21), {"x": X}, {"p": np.array([0, 1, 1, 0, 0, 0, 2, 1], I64),
                                                 "v": np.array(-2.0, np.float32)}, name="constant"),
    Case("Pad", (13,), {"x": X}, {"p": np.array([0, 0, 2, 1, 0, 0, 1, 3], I64)}, attrs={"mode": "reflect"},
         name="reflect"),
    Case("Pad", (13,), {"x": X}, {"p": np.array([0, 0, 2, 1, 0, 0, 1, 3], I64)}, attrs={"mode": "edge"},
         name="edge"),
    Case("Pad", (19,), {"x": X}, {"p": np.array([0, 0, 2, 1, 0, 0, 1, 3], I64)}, attrs={"mode": "wrap"},
         name="wrap"),
    Case("Pad", (18,), {"x": X}, {"p": np.array([1, -1, 2, 0], I64), "v": np.array(0.5, np.float32),
                                  "ax": np.array([1, 3], I64)}, name="axes"),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_shape_ops_match_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)


def test_transpose_moving_more_than_six_axis_groups_is_a_coded_refusal(tmp_path):
    import onnx

    from onnx_in_parity import case_model
    from pipeline.onnx.importer import errors
    from pipeline.onnx.load import load_onnx

    case = Case("Transpose", (13,), {"x": rand(2, 2, 2, 2, 2, 2, 2)}, attrs={"perm": [6, 5, 4, 3, 2, 1, 0]})
    path = tmp_path / "m.onnx"
    onnx.save(case_model(case, 13), str(path))
    with pytest.raises(errors.OnnxImportError) as info:
        load_onnx(path, None)
    assert info.value.code == "ONNX106" and "7 axis groups" in info.value.message
