"""Gemm and MatMul.

A static right-hand matrix becomes FullyConnected (flatten=False) with the weight stored as
MXNet expects it, (N, K): the op MXNet's oneDNN backend and the accelerator partitioner know.
Other cases follow numpy's matmul with explicit broadcast of the batch dims and batch_dot.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import param, reshape
from pipeline.onnx.importer.registry import converter


def _float(ctx, sym, i):
    """MXNet's dot has no integer kernels; integer matmul runs in float64 (exact below 2**53)."""
    return mx.sym.Cast(sym, dtype="float64") if np.issubdtype(ctx.dtype(i), np.integer) else sym


@converter("Gemm", since=7)
@converter("Gemm", since=9)
@converter("Gemm", since=11)
@converter("Gemm", since=13)
def gemm(node, ctx):
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    trans_a, trans_b = ctx.attr("transA", 0), ctx.attr("transB", 0)
    b_static = ctx.const(1)
    c = ctx.input(2)
    n = ctx.shape(1)[0 if trans_b else 1]
    c_fits = c is None or (beta == 1.0 and ctx.shape(2) in ((n,), (1,), ()))
    if not trans_a and b_static is not None and alpha == 1.0 and c_fits and b_static.dtype == np.float32:
        weight = param(ctx, b_static if trans_b else b_static.T, "weight")
        bias = None
        if c is not None:
            bias = c if ctx.shape(2) == (n,) else mx.sym.broadcast_to(reshape(ctx, c, (1,), "bias1"), shape=(n,))
        return mx.sym.FullyConnected(ctx.input(0), weight=weight, bias=bias, num_hidden=n, no_bias=bias is None,
                                     flatten=False, name=ctx.name)
    a, b = _float(ctx, ctx.input(0), 0), _float(ctx, ctx.input(1), 1)
    out = mx.sym.dot(a, b, transpose_a=bool(trans_a), transpose_b=bool(trans_b))
    if alpha != 1.0:
        out = out * alpha
    if c is not None and beta != 0.0:
        out = mx.sym.broadcast_add(out, _float(ctx, c, 2) * beta if beta != 1.0 else _float(ctx, c, 2))
    if np.issubdtype(ctx.dtype(0), np.integer):
        out = mx.sym.Cast(out, dtype=ctx.dtype(0))
    return mx.sym.identity(out, name=ctx.name)


@converter("MatMul", since=1)
@converter("MatMul", since=9)
@converter("MatMul", since=13)
def matmul(node, ctx):
    sa, sb = ctx.shape(0), ctx.shape(1)
    b_static = ctx.const(1)
    if b_static is not None and b_static.ndim == 2 and len(sa) >= 1 and not np.issubdtype(b_static.dtype, np.integer):
        weight = param(ctx, np.ascontiguousarray(b_static.T), "weight")
        x = ctx.input(0)
        if len(sa) == 1:
            x = reshape(ctx, x, (1, sa[0]), "row")
        out = mx.sym.FullyConnected(x, weight=weight, num_hidden=b_static.shape[1], no_bias=True, flatten=False,
                                    name=ctx.name if len(sa) > 1 else ctx.sub("fc"))
        return out if len(sa) > 1 else reshape(ctx, out, (b_static.shape[1],), "out")
    a, b = _float(ctx, ctx.input(0), 0), _float(ctx, ctx.input(1), 1)
    # numpy matmul: 1-D operands gain a dim that is dropped again at the end.
    a_shape = (1,) + tuple(sa) if len(sa) == 1 else tuple(sa)
    b_shape = tuple(sb) + (1,) if len(sb) == 1 else tuple(sb)
    batch = tuple(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
    m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
    out_shape = batch + (m, n)
    if len(sa) == 1:
        out_shape = out_shape[:-2] + (n,)
    if len(sb) == 1:
        out_shape = out_shape[:-1]
    if not batch:
        out = mx.sym.dot(reshape(ctx, a, a_shape, "a2"), reshape(ctx, b, b_shape, "b2"))
    else:
        a = _broadcast(ctx, a, a_shape, batch, "a")
        b = _broadcast(ctx, b, b_shape, batch, "b")
        count = int(np.prod(batch, dtype=np.int64))
        out = mx.sym.batch_dot(reshape(ctx, a, (count, m, k), "a3"), reshape(ctx, b, (count, k, n), "b3"))
    out = reshape(ctx, out, out_shape, "out")
    if np.issubdtype(ctx.dtype(0), np.integer):
        out = mx.sym.Cast(out, dtype=ctx.dtype(0))
    return mx.sym.identity(out, name=ctx.name)


def _broadcast(ctx, sym, shape, batch, tag):
    full = tuple(batch) + tuple(shape[-2:])
    if tuple(shape) == full:
        return sym
    padded = (1,) * (len(full) - len(shape)) + tuple(shape)
    return mx.sym.broadcast_to(reshape(ctx, sym, padded, f"{tag}pad"), shape=full)
