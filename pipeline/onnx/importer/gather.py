"""Indexing: Gather, GatherElements, GatherND, ScatterND, ScatterElements, OneHot.

Index grids for the axes that are not gathered are static numpy tables (the shapes are
known), so only the user's indices are computed at run time. Negative indices wrap, as ONNX
allows them.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, param, reshape
from pipeline.onnx.importer.registry import converter


def _wrap(ctx, dim, i):
    """Negative indices count from the end: add `dim` where the index is below 0 (int64 kept)."""
    idx = ctx.input(i)
    if ctx.const(i) is not None:
        value = ctx.const(i).astype(np.int64)
        return param(ctx, np.where(value < 0, value + dim, value), f"idx{i}")
    idx = mx.sym.Cast(idx, dtype="int64")
    return idx + mx.sym.Cast(idx < 0, dtype="int64") * dim


@converter("Gather", since=1)
@converter("Gather", since=11)
@converter("Gather", since=13)
def gather(node, ctx):
    shape, ishape = ctx.shape(0), ctx.shape(1)
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    out = mx.sym.take(ctx.input(0), _wrap(ctx, shape[axis], 1), axis=axis, mode="clip")
    dims = tuple(shape[:axis]) + tuple(ishape) + tuple(shape[axis + 1:])
    return reshape(ctx, out, dims, "out")


def _grids(shape):
    return np.indices(shape, dtype=np.int64)


@converter("GatherElements", since=11)
@converter("GatherElements", since=13)
def gather_elements(node, ctx):
    shape, ishape = ctx.shape(0), ctx.shape(1)
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    coords = []
    grids = _grids(ishape)
    for d in range(len(shape)):
        if d == axis:
            coords.append(mx.sym.expand_dims(_wrap(ctx, shape[axis], 1), axis=0))
        else:
            coords.append(param(ctx, grids[d:d + 1], f"grid{d}"))
    return mx.sym.gather_nd(ctx.input(0), mx.sym.concat(*coords, dim=0), name=ctx.name)


@converter("GatherND", since=11)
@converter("GatherND", since=12)
@converter("GatherND", since=13)
def gather_nd(node, ctx):
    """ONNX puts the coordinate last, MXNet first; batch_dims prepend the batch coordinates."""
    shape, ishape = ctx.shape(0), ctx.shape(1)
    b = ctx.attr("batch_dims", 0)
    idx = mx.sym.Cast(ctx.input(1), dtype="int64")
    k = ishape[-1]
    wrapped = []
    for j in range(k):
        part = mx.sym.slice_axis(idx, axis=len(ishape) - 1, begin=j, end=j + 1)
        wrapped.append(part + mx.sym.Cast(part < 0, dtype="int64") * shape[b + j])
    idx = mx.sym.concat(*wrapped, dim=len(ishape) - 1) if k > 1 else wrapped[0]
    axes = (len(ishape) - 1,) + tuple(range(len(ishape) - 1))
    coords = mx.sym.transpose(idx, axes=axes)
    if b:
        grids = _grids(tuple(ishape[:-1]))[:b]
        coords = mx.sym.concat(param(ctx, grids, "batch"), coords, dim=0)
    out_shape = tuple(ishape[:-1]) + tuple(shape[b + k:])
    return reshape(ctx, mx.sym.gather_nd(ctx.input(0), coords), out_shape, "out")


def _scatter(ctx, data, coords, updates, shape, reduction="none"):
    """data with `updates` written at `coords`: scatter_nd builds a fresh tensor, so mask it in.

    reduction='add' sums duplicates with gather_nd's gradient op, which accumulates."""
    if reduction == "add":
        added = mx.sym._internal._backward_gather_nd(updates, coords, shape=shape)
        return mx.sym.broadcast_add(data, added, name=ctx.name)
    if reduction != "none":
        raise ctx.unsupported(f"reduction='{reduction}'")
    written = mx.sym.scatter_nd(updates, coords, shape=shape)
    mask = mx.sym.scatter_nd(mx.sym.ones_like(updates), coords, shape=shape)
    return mx.sym.broadcast_add(mx.sym.broadcast_mul(data, 1 - mask), written, name=ctx.name)


@converter("ScatterND", since=11)
@converter("ScatterND", since=13)
@converter("ScatterND", since=16)
@converter("ScatterND", since=18)
def scatter_nd(node, ctx):
    idx = mx.sym.Cast(ctx.input(1), dtype="int64")
    return scatter_sym(ctx, ctx.input(0), idx, ctx.input(2), ctx.shape(0), ctx.attr("reduction", "none"))


def scatter_sym(ctx, data, idx, updates, shape, reduction="none"):
    """ScatterND on Symbols: `idx` int64 with ONNX's coordinate-last layout (rank known from ctx's input 1)."""
    rank = len(ctx.shape(1))
    coords = mx.sym.transpose(idx, axes=(rank - 1,) + tuple(range(rank - 1)))
    return _scatter(ctx, data, coords, updates, shape, reduction)


@converter("ScatterElements", since=11)
@converter("ScatterElements", since=13)
@converter("ScatterElements", since=16)
@converter("ScatterElements", since=18)
@converter("Scatter", since=9)
def scatter_elements(node, ctx):
    shape, ishape = ctx.shape(0), ctx.shape(1)
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    grids = _grids(ishape)
    coords = [mx.sym.expand_dims(_wrap(ctx, shape[axis], 1), axis=0) if d == axis
              else param(ctx, grids[d:d + 1], f"grid{d}") for d in range(len(shape))]
    return _scatter(ctx, ctx.input(0), mx.sym.concat(*coords, dim=0), ctx.input(2), shape,
                    ctx.attr("reduction", "none"))


@converter("OneHot", since=9)
@converter("OneHot", since=11)
def one_hot(node, ctx):
    depth = int(ctx.require_const(1, "depth").reshape(-1)[0])
    values = ctx.input(2)
    ishape = ctx.shape(0)
    idx = mx.sym.Cast(ctx.input(0), dtype="float32")
    idx = idx + (idx < 0) * depth
    hot = mx.sym.one_hot(idx, depth=depth)
    off = mx.sym.slice_axis(values, axis=0, begin=0, end=1)
    on = mx.sym.slice_axis(values, axis=0, begin=1, end=2)
    out = mx.sym.broadcast_add(mx.sym.broadcast_mul(hot, mx.sym.Cast(on - off, dtype="float32")),
                               mx.sym.Cast(off, dtype="float32"))
    rank = len(ishape) + 1
    axis = norm_axis(ctx.attr("axis", -1), rank)
    if axis != rank - 1:
        axes = list(range(rank - 1))
        axes.insert(axis, rank - 1)
        out = mx.sym.transpose(out, axes=axes)
    return mx.sym.Cast(out, dtype=ctx.dtype(2), name=ctx.name)
