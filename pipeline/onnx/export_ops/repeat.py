"""`repeat` (np.repeat: each element `repeats` times along `axis`) in a form ONNX Runtime folds.

mx2onnx's translation of two stacked repeats (YOLOv3's nearest-neighbour upsampling,
`repeat(repeat(x, 2, axis=2), 2, axis=3)`) makes ONNX Runtime's ConstantFolding fail at
session creation ("Attempt to replace the existing tensor" in AddInitializerWithOrtValue).
Here: Unsqueeze after `axis`, Expand that new axis to `repeats`, Reshape to the input's shape
with `axis` multiplied (shapes sliced from Shape with constant bounds, no rank arithmetic);
axis None flattens first, as MXNet does.
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.export_ops.registry import EXPORT_OPS, helpers


@EXPORT_OPS.decorator("repeat")
def convert_repeat(node, **kwargs):
    from onnx import numpy_helper
    from onnx.helper import make_node

    get_inputs, _, _ = helpers()
    name, inputs, attrs = get_inputs(node, kwargs)
    repeats = int(attrs.get("repeats"))
    axis = attrs.get("axis", "None")
    init = kwargs["initializer"]
    n = lambda suffix: f"{name}_{suffix}"  # noqa: E731

    def const(suffix, value):
        init.append(numpy_helper.from_array(np.asarray(value, dtype=np.int64), n(suffix)))
        return n(suffix)

    nodes = []
    source = inputs[0]
    if axis in (None, "None", ""):
        nodes.append(make_node("Reshape", [source, const("flat", [-1])], [n("flat_x")]))
        source, axis = n("flat_x"), 0
    else:
        axis = int(axis)
    big = 2**62
    head_end = axis + 1 if axis + 1 != 0 else big  # shape[:axis + 1]
    tail_start = axis + 1 if axis + 1 != 0 else big  # shape[axis + 1:]
    nodes += [
        make_node("Shape", [source], [n("shape")]),
        make_node("Slice", [n("shape"), const("s0", [0]), const("e0", [axis if axis != 0 else 0])], [n("before")]),
        make_node("Slice", [n("shape"), const("s1", [axis]), const("e1", [head_end])], [n("dim")]),
        make_node("Slice", [n("shape"), const("s2", [tail_start]), const("e2", [big])], [n("after")]),
        make_node("Unsqueeze", [source, const("new_axis", [axis + 1 if axis >= 0 else axis])], [n("expanded")]),
        make_node("Concat", [n("before"), n("dim"), const("rep", [repeats]), n("after")], [n("target")], axis=0),
        make_node("Expand", [n("expanded"), n("target")], [n("tiled")]),
        make_node("Mul", [n("dim"), n("rep")], [n("dim_rep")]),
        make_node("Concat", [n("before"), n("dim_rep"), n("after")], [n("out_shape")], axis=0),
        make_node("Reshape", [n("tiled"), n("out_shape")], [name], name=name),
    ]
    return nodes
