"""Cast and CastLike, including to and from bool (carried as 0/1 inside MXNet)."""
import numpy as np
import pytest
from onnx import TensorProto

from onnx_in_parity import Case, check, params, rand

X = rand(3, 4, low=-5, high=5)

CASES = [
    Case("Cast", (6, 9, 13, 19, 21, 23), {"x": X}, attrs={"to": TensorProto.INT32}),
    Case("Cast", (13,), {"x": X}, attrs={"to": TensorProto.BOOL}, name="bool"),
    Case("Cast", (13,), {"x": (X > 0)}, attrs={"to": TensorProto.FLOAT}, name="from_bool"),
    Case("Cast", (13,), {"x": X}, attrs={"to": TensorProto.FLOAT16}, atol=1e-2, name="fp16"),
    Case("Cast", (13,), {"x": np.arange(6, dtype=np.int64)}, attrs={"to": TensorProto.DOUBLE}, name="int64"),
    Case("CastLike", (15, 19, 21, 23), {"x": X}, {"like": np.zeros(1, np.int64)}),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_cast_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
