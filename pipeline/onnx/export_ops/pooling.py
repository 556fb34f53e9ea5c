"""`_contrib_AdaptiveAvgPooling2D` with any output_size (mx2onnx refuses all but 1x1: PSPNet).

Adaptive average pooling is separable: output bin (i, j) averages rows
[floor(i*H/oh), ceil((i+1)*H/oh)) and columns likewise, which is P_h @ X @ P_w^T with P the
(o, n) averaging matrices. P is built in the graph from the input's shape (Range, Floor,
Ceil, comparisons), so the translation is exact for MXNet's bin rule and still valid for
symbolic H, W; with static shapes ONNX Runtime and OpenVINO fold it to constants.
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.export_ops.registry import EXPORT_OPS, helpers


def _output_size(text) -> tuple[int, int]:
    values = [int(v) for v in str(text).strip("()[] ").replace(",", " ").split()] if text not in (None, "") else [1]
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


@EXPORT_OPS.decorator("_contrib_AdaptiveAvgPooling2D")
def convert_adaptive_avg_pooling(node, **kwargs):
    from onnx import TensorProto, numpy_helper
    from onnx.helper import make_node

    get_inputs, get_input_dtypes, _ = helpers()
    name, inputs, attrs = get_inputs(node, kwargs)
    dtype = np.dtype(get_input_dtypes(node, kwargs)[0])
    oh, ow = _output_size(attrs.get("output_size"))
    init = kwargs["initializer"]
    n = lambda suffix: f"{name}_{suffix}"  # noqa: E731

    def const(suffix, value, dt=np.float32):
        init.append(numpy_helper.from_array(np.asarray(value, dtype=dt), n(suffix)))
        return n(suffix)

    if (oh, ow) == (1, 1):
        return [make_node("GlobalAveragePool", [inputs[0]], [name], name=name)]
    nodes = [make_node("Shape", [inputs[0]], [n("shape")])]
    matrices = []
    for axis, out in ((2, oh), (3, ow)):
        a = f"ax{axis}"
        nodes += [
            make_node("Gather", [n("shape"), const(f"{a}_i", axis, np.int64)], [n(f"{a}_len")]),
            make_node("Cast", [n(f"{a}_len")], [n(f"{a}_lenf")], to=TensorProto.FLOAT),
            make_node("Range", [const(f"{a}_z", 0.0), n(f"{a}_lenf"), const(f"{a}_one", 1.0)], [n(f"{a}_pos")]),
            make_node("Div", [n(f"{a}_lenf"), const(f"{a}_out", float(out))], [n(f"{a}_step")]),
            make_node("Mul", [const(f"{a}_bins", np.arange(out, dtype=np.float32).reshape(out, 1)), n(f"{a}_step")],
                      [n(f"{a}_lo_f")]),
            make_node("Floor", [n(f"{a}_lo_f")], [n(f"{a}_lo")]),
            make_node("Mul", [const(f"{a}_bins1", np.arange(1, out + 1, dtype=np.float32).reshape(out, 1)),
                              n(f"{a}_step")], [n(f"{a}_hi_f")]),
            make_node("Ceil", [n(f"{a}_hi_f")], [n(f"{a}_hi")]),
            make_node("GreaterOrEqual", [n(f"{a}_pos"), n(f"{a}_lo")], [n(f"{a}_ge")]),
            make_node("Less", [n(f"{a}_pos"), n(f"{a}_hi")], [n(f"{a}_lt")]),
            make_node("And", [n(f"{a}_ge"), n(f"{a}_lt")], [n(f"{a}_in")]),
            make_node("Cast", [n(f"{a}_in")], [n(f"{a}_inf")], to=TensorProto.FLOAT),
            make_node("Sub", [n(f"{a}_hi"), n(f"{a}_lo")], [n(f"{a}_count")]),
            make_node("Div", [n(f"{a}_inf"), n(f"{a}_count")], [n(f"{a}_p32")]),  # (out, len)
            make_node("Cast", [n(f"{a}_p32")], [n(f"{a}_p")], to=int(_tensor_type(dtype))),
        ]
        matrices.append(n(f"{a}_p"))
    nodes += [
        make_node("MatMul", [matrices[0], inputs[0]], [n("rows")]),  # (oh, H) @ (B, C, H, W) -> (B, C, oh, W)
        make_node("Transpose", [matrices[1]], [n("pw_t")], perm=[1, 0]),
        make_node("MatMul", [n("rows"), n("pw_t")], [name], name=name),
    ]
    return nodes


def _tensor_type(dtype: np.dtype) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(dtype)
