"""Layout ops: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Expand, Tile.

Every output shape is computed here from the static input shape, and the MXNet graph gets a
plain reshape to it: MXNet's special reshape codes (0, -1, -2...) differ from ONNX's, and a
static target avoids both that trap and rank-0 surprises.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, reshape
from pipeline.onnx.importer.registry import converter


@converter("Reshape", since=5)
@converter("Reshape", since=13)
@converter("Reshape", since=14)
@converter("Reshape", since=19)
@converter("Reshape", since=21)
def reshape_(node, ctx):
    shape = ctx.shape(0)
    target = [int(d) for d in ctx.require_const(1, "shape").reshape(-1)]
    allowzero = ctx.attr("allowzero", 0)
    dims = [shape[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        dims[dims.index(-1)] = int(np.prod(shape, dtype=np.int64)) // max(known, 1)
    return reshape(ctx, ctx.input(0), dims, "out")


@converter("Flatten", since=1)
@converter("Flatten", since=9)
@converter("Flatten", since=11)
@converter("Flatten", since=13)
@converter("Flatten", since=21)
def flatten(node, ctx):
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attr("axis", 1), len(shape))
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    return reshape(ctx, ctx.input(0), (outer, int(np.prod(shape[axis:], dtype=np.int64))), "out")


@converter("Squeeze", since=1)
@converter("Squeeze", since=11)
@converter("Squeeze", since=13)
@converter("Squeeze", since=21)
def squeeze(node, ctx):
    shape = ctx.shape(0)
    if ctx.opset >= 13:
        axes = None if not ctx.has_input(1) else ctx.require_const(1, "axes").reshape(-1).tolist()
    else:
        axes = ctx.attr("axes", None)
    if axes is None:
        dims = [d for d in shape if d != 1]
    else:
        drop = {norm_axis(int(a), len(shape)) for a in axes}
        dims = [d for i, d in enumerate(shape) if i not in drop]
    return reshape(ctx, ctx.input(0), dims, "out")


@converter("Unsqueeze", since=1)
@converter("Unsqueeze", since=11)
@converter("Unsqueeze", since=13)
@converter("Unsqueeze", since=21)
def unsqueeze(node, ctx):
    shape = list(ctx.shape(0))
    axes = ctx.require_const(1, "axes").reshape(-1).tolist() if ctx.opset >= 13 else ctx.attr("axes")
    rank = len(shape) + len(axes)
    for a in sorted(norm_axis(int(a), rank) for a in axes):
        shape.insert(a, 1)
    return reshape(ctx, ctx.input(0), shape, "out")


@converter("Transpose", since=1)
@converter("Transpose", since=13)
@converter("Transpose", since=21)
def transpose(node, ctx):
    """MXNet transposes at most 6 axes; mx2onnx's gather_nd pads indices to 8-D and swaps axes 0
    and 7. Size-1 axes and runs of axes that stay adjacent carry no order, so the permutation
    is applied to what remains (reshaped there and back): exact whenever <= 6 axes are left."""
    shape = ctx.shape(0)
    rank = len(shape)
    perm = [norm_axis(int(a), rank) for a in ctx.attr("perm", list(range(rank))[::-1])]
    if rank <= 1:
        return mx.sym.identity(ctx.input(0), name=ctx.name)
    if rank <= 6:
        return mx.sym.transpose(ctx.input(0), axes=tuple(perm), name=ctx.name)
    groups, kept = _transpose_groups(shape, perm)
    if len(groups) > 6:
        raise ctx.unsupported(f"a rank-{rank} transpose that moves {len(groups)} axis groups (MXNet moves at most 6)")
    out_shape = tuple(shape[a] for a in perm)
    sizes = [int(np.prod([shape[a] for a in g], dtype=np.int64)) for g in groups]
    x = reshape(ctx, ctx.input(0), tuple(sizes), "groups")
    order = sorted(range(len(groups)), key=lambda i: kept.index(groups[i][0]))
    if order != list(range(len(groups))):
        x = mx.sym.transpose(x, axes=tuple(order))
    return reshape(ctx, x, out_shape, "out")


def _transpose_groups(shape, perm):
    """Input axes (size-1 ones dropped) grouped into runs that `perm` keeps adjacent and in order;
    returns the groups in input order and the non-unit axes in output order."""
    kept = [a for a in perm if shape[a] != 1]
    groups: list[list[int]] = []
    for a in sorted(kept):
        last = groups[-1][-1] if groups else None
        if last is not None and kept.index(a) == kept.index(last) + 1:
            groups[-1].append(a)  # axes between last and a are size 1: nothing separates them
        else:
            groups.append([a])
    return groups, kept


@converter("Concat", since=4)
@converter("Concat", since=11)
@converter("Concat", since=13)
def concat(node, ctx):
    present = [i for i in range(ctx.num_inputs) if ctx.has_input(i)]
    rank = ctx.rank(present[0])
    axis = norm_axis(ctx.attr("axis"), rank)
    parts = [ctx.input(i) for i in present if ctx.shape(i)[axis] != 0]
    if len(parts) == 1:
        return mx.sym.identity(parts[0], name=ctx.name)
    return mx.sym.concat(*parts, dim=axis, name=ctx.name)


@converter("Split", since=2)
@converter("Split", since=11)
@converter("Split", since=13)
@converter("Split", since=18)
def split(node, ctx):
    """Sizes: `split` attribute (< 13) or input (>= 13); else equal parts, the last one smaller
    when `num_outputs` (18) does not divide the axis."""
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    if ctx.opset >= 13:
        sizes = None if not ctx.has_input(1) else ctx.require_const(1, "split").reshape(-1).tolist()
    else:
        sizes = ctx.attr("split", None)
    n = len(node.outputs)
    if not sizes:
        count = ctx.attr("num_outputs", n)
        step = -(-shape[axis] // count)
        sizes = [min(step, shape[axis] - k * step) for k in range(count)]
    outs, begin = [], 0
    for k, size in enumerate(sizes):
        outs.append(mx.sym.slice_axis(ctx.input(0), axis=axis, begin=begin, end=begin + int(size),
                                      name=ctx.sub(f"part{k}")))
        begin += int(size)
    return outs


def _slice_bounds(dim: int, start: int, end: int, step: int) -> tuple[int, int | None, int]:
    """ONNX clamping equals Python's slice.indices; a negative-step stop of -1 means 'through 0'."""
    start, stop, step = slice(start, end, step).indices(dim)
    if step < 0 and stop < 0:
        return start, None, step
    return start, stop, step


def slice_axes(ctx) -> dict[int, tuple[int, int | None, int]]:
    """A Slice node's (begin, end, step) per sliced axis, in Python slice terms."""
    shape = ctx.shape(0)
    if ctx.opset >= 10:
        starts = ctx.require_const(1, "starts").reshape(-1).tolist()
        ends = ctx.require_const(2, "ends").reshape(-1).tolist()
        axes = ctx.require_const(3, "axes").reshape(-1).tolist() if ctx.has_input(3) else list(range(len(starts)))
        steps = ctx.require_const(4, "steps").reshape(-1).tolist() if ctx.has_input(4) else [1] * len(starts)
    else:
        starts, ends = ctx.attr("starts"), ctx.attr("ends")
        axes = ctx.attr("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    out = {}
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(int(a), len(shape))
        out[a] = _slice_bounds(shape[a], int(s), int(e), int(st))
    return out


@converter("Slice", since=1)
@converter("Slice", since=10)
@converter("Slice", since=11)
@converter("Slice", since=13)
def slice_(node, ctx):
    rank = ctx.rank(0)
    begin, end, step = [None] * rank, [None] * rank, [None] * rank
    for a, (b, e, st) in slice_axes(ctx).items():
        begin[a], end[a], step[a] = b, e, st
    return mx.sym.slice(ctx.input(0), begin=tuple(begin), end=tuple(end), step=tuple(step), name=ctx.name)


@converter("Expand", since=8)
@converter("Expand", since=13)
def expand(node, ctx):
    """Bidirectional broadcast: the result has the broadcast of both shapes, not the target's."""
    shape = ctx.shape(0)
    target = tuple(int(d) for d in ctx.require_const(1, "shape").reshape(-1))
    out = tuple(np.broadcast_shapes(shape, target))
    x = ctx.input(0)
    if len(shape) < len(out):
        x = reshape(ctx, x, (1,) * (len(out) - len(shape)) + tuple(shape), "rank")
    if tuple(out) == tuple(shape):
        return mx.sym.identity(x, name=ctx.name)
    return mx.sym.broadcast_to(x, shape=out, name=ctx.name)


@converter("Tile", since=6)
@converter("Tile", since=13)
def tile(node, ctx):
    """MXNet's tile works at twice the rank internally and fails from 4-D on ("too many
    reduction axes"); there, concatenate copies axis by axis instead."""
    reps = tuple(int(r) for r in ctx.require_const(1, "repeats").reshape(-1))
    if len(reps) <= 3:
        return mx.sym.tile(ctx.input(0), reps=reps, name=ctx.name)
    x = ctx.input(0)
    for axis, r in enumerate(reps):
        if r > 1:
            x = mx.sym.concat(*([x] * r), dim=axis)
    return mx.sym.identity(x, name=ctx.name)


@converter("DepthToSpace", since=1)
@converter("DepthToSpace", since=11)
@converter("DepthToSpace", since=13)
def depth_to_space(node, ctx):
    n, c, h, w = ctx.shape(0)
    b = ctx.attr("blocksize")
    if ctx.attr("mode", "DCR") == "DCR":
        tmp = reshape(ctx, ctx.input(0), (n, b, b, c // (b * b), h, w), "split")
        tmp = mx.sym.transpose(tmp, axes=(0, 3, 4, 1, 5, 2))
    else:
        tmp = reshape(ctx, ctx.input(0), (n, c // (b * b), b, b, h, w), "split")
        tmp = mx.sym.transpose(tmp, axes=(0, 1, 4, 2, 5, 3))
    return reshape(ctx, tmp, (n, c // (b * b), h * b, w * b), "out")


@converter("SpaceToDepth", since=1)
@converter("SpaceToDepth", since=13)
def space_to_depth(node, ctx):
    n, c, h, w = ctx.shape(0)
    b = ctx.attr("blocksize")
    tmp = reshape(ctx, ctx.input(0), (n, c, h // b, b, w // b, b), "split")
    tmp = mx.sym.transpose(tmp, axes=(0, 3, 5, 1, 2, 4))
    return reshape(ctx, tmp, (n, c * b * b, h // b, w // b), "out")


@converter("Pad", since=2)
@converter("Pad", since=11)
@converter("Pad", since=13)
@converter("Pad", since=18)
@converter("Pad", since=19)
@converter("Pad", since=21)
def pad(node, ctx):
    """pads: attribute (< 11) or input; constant_value input (>= 11); axes input (>= 18)."""
    from pipeline.onnx.importer.padding import pad_blocks

    shape = ctx.shape(0)
    rank = len(shape)
    if ctx.opset < 11:
        flat, value = list(ctx.attr("pads")), ctx.attr("value", 0.0)
    else:
        flat = [int(p) for p in ctx.require_const(1, "pads").reshape(-1)]
        value = ctx.require_const(2, "constant_value").reshape(-1)[0] if ctx.has_input(2) else 0
    axes = list(range(rank))
    if ctx.opset >= 18 and ctx.has_input(3):
        axes = [norm_axis(int(a), rank) for a in ctx.require_const(3, "axes").reshape(-1)]
    count = len(axes)
    pairs = [(0, 0)] * rank
    for k, a in enumerate(axes):
        pairs[a] = (int(flat[k]), int(flat[k + count]))
    out, _ = pad_blocks(ctx, ctx.input(0), shape, pairs, mode=ctx.attr("mode", "constant"), value=float(value),
                        dtype=ctx.dtype(0))
    return mx.sym.identity(out, name=ctx.name)
