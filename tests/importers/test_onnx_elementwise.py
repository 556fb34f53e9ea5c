"""Element-wise arithmetic against ONNX Runtime (atol 1e-5; integer results exact)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

A = rand(2, 3, 4, low=-2, high=2)
B = rand(3, 1, seed=3, low=0.5, high=2)
POS = rand(2, 3, 4, seed=5, low=0.1, high=3)
UNIT = rand(2, 3, 4, seed=6, low=-0.9, high=0.9)
INT_A = np.array([[7, -7, 5], [-9, 8, 3]], np.int64)
INT_B = np.array([[2, 2, -3], [4, -3, 2]], np.int64)

CASES = [Case(op, (7, 13, 14), {"a": A, "b": B}) for op in ("Add", "Sub", "Mul", "Div")]
CASES += [
    Case("Div", (13,), {"a": INT_A, "b": INT_B}, name="int"),
    Case("Add", (14,), {"a": A}, {"b": np.array(2.5, np.float32)}, name="const_scalar"),
    Case("Pow", (7, 12, 13, 15), {"a": POS, "b": B}),
    Case("Pow", (15,), {"a": POS}, {"b": np.array(2, np.int64)}, name="int_exponent"),
    Case("Pow", (15,), {"a": np.array([1, 2, 3, 4], np.int64)}, {"b": np.array(1.5, np.float32)},
         name="int_base_float_exponent"),
    Case("Mod", (10, 13), {"a": INT_A, "b": INT_B}),
    Case("Mod", (13,), {"a": A, "b": B}, attrs={"fmod": 1}, name="fmod"),
    Case("Sum", (8, 13), {"a": A, "b": B, "c": POS}),
    Case("Mean", (8, 13), {"a": A, "b": B, "c": POS}),
    Case("Max", (8, 12, 13), {"a": A, "b": B}),
    Case("Min", (8, 12, 13), {"a": A, "b": B, "c": POS}),
    Case("IsNaN", (9, 13, 20), {"x": np.array([1.0, np.nan, np.inf], np.float32)}),
    Case("IsInf", (10, 20), {"x": np.array([1.0, np.nan, np.inf, -np.inf], np.float32)}),
    Case("IsInf", (20,), {"x": np.array([1.0, -np.inf, np.inf], np.float32)}, attrs={"detect_negative": 0},
         name="positive"),
    Case("Round", (11, 22), {"x": np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.0], np.float32)}),
]
for op, versions in {"Abs": (6, 13), "Neg": (6, 13), "Exp": (6, 13), "Floor": (6, 13), "Ceil": (6, 13),
                     "Sign": (9, 13), "Sin": (7,), "Cos": (7,), "Tan": (7,), "Atan": (7,), "Sinh": (9,),
                     "Cosh": (9,), "Asinh": (9,), "Erf": (9, 13), "Identity": (1, 13, 14, 16, 19, 21)}.items():
    CASES.append(Case(op, versions, {"x": A}))
for op, versions in {"Log": (6, 13), "Sqrt": (6, 13), "Reciprocal": (6, 13), "Acosh": (9,)}.items():
    CASES.append(Case(op, versions, {"x": POS + 1}))
for op, versions in {"Asin": (7,), "Acos": (7,), "Atanh": (9,)}.items():
    CASES.append(Case(op, versions, {"x": UNIT}))


@pytest.mark.parametrize("case,opset", params(CASES))
def test_elementwise_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)
