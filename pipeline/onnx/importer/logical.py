"""Comparisons, logical ops and Where. Results are 0/1 in the operands' dtype (MXNet style)."""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.registry import converter

_COMPARE = {"Equal": mx.sym.broadcast_equal, "Greater": mx.sym.broadcast_greater, "Less": mx.sym.broadcast_lesser,
            "GreaterOrEqual": mx.sym.broadcast_greater_equal, "LessOrEqual": mx.sym.broadcast_lesser_equal}
_LOGICAL = {"And": mx.sym.broadcast_logical_and, "Or": mx.sym.broadcast_logical_or,
            "Xor": mx.sym.broadcast_logical_xor}


@converter("Equal", since=7)
@converter("Equal", since=11)
@converter("Equal", since=13)
@converter("Equal", since=19)
@converter("Greater", since=7)
@converter("Greater", since=9)
@converter("Greater", since=13)
@converter("Less", since=7)
@converter("Less", since=9)
@converter("Less", since=13)
@converter("GreaterOrEqual", since=12)
@converter("GreaterOrEqual", since=16)
@converter("LessOrEqual", since=12)
@converter("LessOrEqual", since=16)
def compare(node, ctx):
    a, b = ctx.input(0), ctx.input(1)
    if ctx.dtype(0) != ctx.dtype(1):  # bools from different producers may differ in dtype
        b = mx.sym.Cast(b, dtype=ctx.dtype(0))
    return _COMPARE[node.op_type](a, b, name=ctx.name)


@converter("And", since=7)
@converter("Or", since=7)
@converter("Xor", since=7)
def logical(node, ctx):
    a, b = ctx.input(0), ctx.input(1)
    if ctx.dtype(0) != ctx.dtype(1):
        b = mx.sym.Cast(b, dtype=ctx.dtype(0))
    return _LOGICAL[node.op_type](a, b, name=ctx.name)


@converter("Not", since=1)
def not_(node, ctx):
    return mx.sym.logical_not(ctx.input(0), name=ctx.name)


@converter("Where", since=9)
@converter("Where", since=16)
def where(node, ctx):
    """MXNet's where does not broadcast: bring all three to the common static shape first."""
    shape = tuple(np.broadcast_shapes(ctx.shape(0), ctx.shape(1), ctx.shape(2)))
    out_shape = shape or (1,)
    parts = []
    for i in range(3):
        sym = ctx.input(i)
        own = ctx.shape(i)
        if tuple(own) != shape:
            sym = mx.sym.reshape(sym, shape=(1,) * (len(shape) - len(own)) + tuple(own)) if len(own) < len(shape) \
                else sym
            sym = mx.sym.broadcast_to(sym, shape=out_shape)
        parts.append(sym)
    cond, x, y = parts
    if ctx.dtype(2) != ctx.dtype(1):
        y = mx.sym.Cast(y, dtype=ctx.dtype(1))
    return mx.sym.where(cond, x, y, name=ctx.name)
