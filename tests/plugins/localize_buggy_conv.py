"""Test-only plugin (MXDEPLOY_PLUGINS=localize_buggy_conv): an importer bug in the middle of a graph.

It registers a Conv converter for opset 13, a version the importer leaves free (it has 1, 11 and
22), so models at opset 13..21 pick it. Its "fast path" for wide 3x3 stride-2 convolutions (128
input channels or more) pads only at the start, (2, 0) instead of (1, 1): the output keeps its
shape and every value is read one pixel off, as an author confusing SAME_LOWER with explicit
pads would write. In resnet18_v1 that is stage 3's first Conv, half-way through the graph, so
tests/localize/test_converter_bug.py exercises the bisection, not only its last step. Every
other Conv goes to the importer's own converter. Loaded only in a child process.
"""
from __future__ import annotations

from pipeline.onnx.importer.conv import conv
from pipeline.onnx.importer.padding import pad_blocks
from pipeline.onnx.importer.registry import converter


def hits(kernel, strides, pads, in_channels) -> bool:
    return list(kernel) == [3, 3] and list(strides) == [2, 2] and list(pads) == [1, 1, 1, 1] and in_channels >= 128


@converter("Conv", since=13)
def buggy_conv(node, ctx):
    import mxnet as mx

    shape, wshape = ctx.shape(0), ctx.shape(1)
    kernel, strides = ctx.attr("kernel_shape", wshape[2:]), ctx.attr("strides", [1, 1])
    if not hits(kernel, strides, ctx.attr("pads", [0, 0, 0, 0]), shape[1]) or ctx.attr("group", 1) != 1:
        return conv(node, ctx)
    x, _ = pad_blocks(ctx, ctx.input(0), shape, [(0, 0), (0, 0), (2, 0), (2, 0)], dtype=ctx.dtype(0))
    bias = ctx.input(2)
    return mx.sym.Convolution(x, weight=ctx.input(1), bias=bias, kernel=tuple(kernel), stride=tuple(strides),
                              pad=(0, 0), num_filter=wshape[0], no_bias=bias is None, name=ctx.name)
