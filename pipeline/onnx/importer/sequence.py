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
    """ONNX breaks ties by the lower index; MXNet's topk is not a stable sort (measured: 2,000
    values with repeats come out in another order), so indices are taken from distinct float64
    keys that order like the input with ties broken by index (`_tie_broken`). Values are the
    sorted input itself. Detectors whose scores tie (random weights) otherwise keep a different
    one of the tied boxes than ONNX Runtime."""
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attr("axis", -1), len(shape))
    k = int(ctx.attr("k")) if ctx.opset < 10 else int(ctx.require_const(1, "k").reshape(-1)[0])
    largest = ctx.attr("largest", 1)
    x = ctx.input(0)
    values = mx.sym.topk(x, axis=axis, k=k, ret_typ="value", is_ascend=not largest, name=ctx.sub("values"))
    key = _tie_broken(ctx, x, shape, axis, bool(largest))
    indices = mx.sym.topk(x if key is None else key, axis=axis, k=k, ret_typ="indices",
                          is_ascend=not largest and key is None, dtype="int64", name=ctx.name)
    return [values, indices]


def _tie_broken(ctx, x, shape, axis, largest):
    """float64 keys, largest first, all distinct: equal inputs ordered by lower index first.

    Floats: key = y - |y| * i * 2^-45 (y = x or -x, i the index; +-inf as +-2^130, zeros get
    -i * 2^-200). Distinct float32 values differ by >= 2^-24 relative, more than the shift for
    n < 2^21, and float64 keeps consecutive shifts apart (2^-45 >> 2^-53). Integers up to 2^31:
    key = y - i * 2^-21. float64 and int64 inputs have no room for this: None (MXNet's order).
    """
    dtype, n = np.dtype(ctx.dtype(0)), shape[axis]
    small_int = np.issubdtype(dtype, np.integer) and dtype.itemsize <= 4
    if n >= 2 ** 21 or not (small_int or dtype in (np.float32, np.float16)):
        return None
    y = mx.sym.Cast(x, dtype="float64")
    y = y if largest else -y
    index = param(ctx, np.arange(n, dtype=np.float64).reshape([n if a == axis else 1 for a in range(len(shape))]),
                  "tie_index")
    if small_int:
        return mx.sym.broadcast_sub(y, index * 2.0 ** -21)
    big = mx.sym.ones_like(y) * 2.0 ** 130
    y = mx.sym.where(y == np.inf, big, mx.sym.where(y == -np.inf, -big, y))
    shift = mx.sym.broadcast_mul(mx.sym.abs(y), index * 2.0 ** -45)
    zero = mx.sym.broadcast_mul(y == 0, index * 2.0 ** -200)
    return y - shift - zero


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
