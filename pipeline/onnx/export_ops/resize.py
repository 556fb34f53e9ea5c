"""`_contrib_BilinearResize2D` with `align_corners=False`.

mx2onnx's translation always writes `coordinate_transformation_mode=align_corners`, whatever
the node says: with align_corners=False (MXNet's half-pixel rule, src = (dst + 0.5) * in/out
- 0.5, clamped at 0) it was 2.2 off on a 16 -> 128 upsample. This wraps mx2onnx's own
translation (which handles sizes, scales and like-shapes) and sets the mode the node asks for.
"""
from __future__ import annotations

from pipeline.model.symbol_json import node_attrs
from pipeline.onnx.export_ops.registry import EXPORT_OPS


@EXPORT_OPS.decorator("_contrib_BilinearResize2D")
def convert_bilinear_resize(node, **kwargs):
    from onnx import helper
    from mxnet.onnx.mx2onnx._op_translations._op_translations_opset12 import convert_contrib_BilinearResize2D

    align = str(node_attrs(node).get("align_corners", "True")) in ("True", "1", "true")
    nodes = convert_contrib_BilinearResize2D(node, **kwargs)
    if align:
        return nodes
    for onnx_node in nodes:
        if onnx_node.op_type == "Resize":
            for attr in onnx_node.attribute:
                if attr.name == "coordinate_transformation_mode":
                    attr.CopyFrom(helper.make_attribute("coordinate_transformation_mode", "half_pixel"))
    return nodes
