"""Selections with static index tables: CenterCropPad, ReverseSequence, Compress."""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, param, reshape
from pipeline.onnx.importer.padding import pad_blocks
from pipeline.onnx.importer.registry import converter


@converter("CenterCropPad", since=18)
def center_crop_pad(node, ctx):
    """Crop (start at (dim - size) // 2) or zero-pad (the odd element at the end) each axis."""
    shape = list(ctx.shape(0))
    target = [int(d) for d in ctx.require_const(1, "shape").reshape(-1)]
    axes = [norm_axis(a, len(shape)) for a in ctx.attr("axes", list(range(len(shape))))]
    x = ctx.input(0)
    begin, end = [None] * len(shape), [None] * len(shape)
    pads = [(0, 0)] * len(shape)
    for a, size in zip(axes, target):
        if size < shape[a]:
            begin[a] = (shape[a] - size) // 2
            end[a] = begin[a] + size
        elif size > shape[a]:
            pads[a] = ((size - shape[a]) // 2, size - shape[a] - (size - shape[a]) // 2)
    if any(b is not None for b in begin):
        x = mx.sym.slice(x, begin=tuple(begin), end=tuple(end))
        shape = [e - b if b is not None else d for b, e, d in zip(begin, end, shape)]
    x, _ = pad_blocks(ctx, x, shape, pads, dtype=ctx.dtype(0))
    return mx.sym.identity(x, name=ctx.name)


@converter("ReverseSequence", since=10)
def reverse_sequence(node, ctx):
    """Each batch entry reverses its first seq_len steps: one static gather table."""
    shape = ctx.shape(0)
    lens = ctx.require_const(1, "sequence_lens").reshape(-1).astype(np.int64)
    batch_axis, time_axis = ctx.attr("batch_axis", 1), ctx.attr("time_axis", 0)
    coords = np.indices(shape, dtype=np.int64)
    t, b = coords[time_axis], coords[batch_axis]
    length = lens[b]
    coords[time_axis] = np.where(t < length, length - 1 - t, t)
    return mx.sym.gather_nd(ctx.input(0), param(ctx, coords, "coords"), name=ctx.name)


@converter("Compress", since=9)
@converter("Compress", since=11)
def compress(node, ctx):
    keep = np.nonzero(ctx.require_const(1, "condition").reshape(-1))[0]
    axis = ctx.attr("axis", None)
    x = ctx.input(0)
    shape = ctx.shape(0)
    if axis is None:
        x = reshape(ctx, x, (int(np.prod(shape, dtype=np.int64)),), "flat")
        axis = 0
    axis = norm_axis(axis, len(shape) if ctx.attr("axis", None) is not None else 1)
    return mx.sym.take(x, param(ctx, keep.astype(np.int64), "keep"), axis=axis, name=ctx.name)
