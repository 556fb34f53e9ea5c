"""Ops along one axis or on the last two: TopK, CumSum, Trilu.

CumSum is a matrix product with a static triangular matrix, exact for float inputs and run in
float64 for integers; MXNet 1.9.1's legacy API has no cumsum op.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, param
from pipeline.onnx.importer.registry import converter


@converter("TopK", since=1)
@converter("TopK", since=10)
@converter("TopK", since=11)
def topk(node, ctx):
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attr("axis", -1), len(shape))
    k = int(ctx.attr("k")) if ctx.opset < 10 else int(ctx.require_const(1, "k").reshape(-1)[0])
    largest = ctx.attr("largest", 1)
    values, indices = mx.sym.topk(ctx.input(0), axis=axis, k=k, ret_typ="both", is_ascend=not largest,
                                  dtype="int64", name=ctx.name)
    return [values, indices]


@converter("CumSum", since=11)
@converter("CumSum", since=14)
def cumsum(node, ctx):
    shape = ctx.shape(0)
    axis = norm_axis(int(ctx.require_const(1, "axis").reshape(-1)[0]), len(shape))
    n = shape[axis]
    exclusive, reverse = ctx.attr("exclusive", 0), ctx.attr("reverse", 0)
    i, j = np.indices((n, n))
    keep = (j <= i) if not reverse else (j >= i)
    if exclusive:
        keep &= (i != j)
    dtype = ctx.dtype(0)
    work = np.float64 if np.issubdtype(dtype, np.integer) else dtype
    x = ctx.input(0)
    if work != dtype:
        x = mx.sym.Cast(x, dtype=work)
    tri = param(ctx, keep.astype(work), "tri")  # (out, in): FullyConnected computes x @ tri.T
    moved = mx.sym.swapaxes(x, dim1=axis, dim2=len(shape) - 1) if axis != len(shape) - 1 else x
    out = mx.sym.FullyConnected(moved, weight=tri, no_bias=True, num_hidden=n, flatten=False) \
        if work == np.float32 else mx.sym.dot(moved, mx.sym.transpose(tri))
    if axis != len(shape) - 1:
        out = mx.sym.swapaxes(out, dim1=axis, dim2=len(shape) - 1)
    return mx.sym.Cast(out, dtype=dtype, name=ctx.name) if work != dtype else mx.sym.identity(out, name=ctx.name)


@converter("Trilu", since=14)
def trilu(node, ctx):
    shape = ctx.shape(0)
    k = int(ctx.require_const(1, "k").reshape(-1)[0]) if ctx.has_input(1) else 0
    rows, cols = shape[-2], shape[-1]
    mask = np.triu(np.ones((rows, cols)), k) if ctx.attr("upper", 1) else np.tril(np.ones((rows, cols)), k)
    return mx.sym.broadcast_mul(ctx.input(0), param(ctx, mask.astype(ctx.dtype(0)), "mask"), name=ctx.name)
