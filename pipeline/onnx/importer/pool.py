"""Max/Average/Lp pooling, global and windowed -> MXNet Pooling."""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import param
from pipeline.onnx.importer.padding import pad_blocks, spatial_pads
from pipeline.onnx.importer.registry import converter


def _out_len(size, k, s, d, b, e, ceil):
    span = (k - 1) * d + 1
    if ceil:
        n = -(-(size + b + e - span) // s) + 1
        if (n - 1) * s >= size + b:  # ONNX: the last window must start inside the input or the left pad
            n -= 1
        return n
    return (size + b + e - span) // s + 1


def _pool(node, ctx, pool_type: str, cast: bool = False):
    shape = ctx.shape(0)
    rank = len(shape) - 2
    kernel = tuple(ctx.attr("kernel_shape"))
    strides = tuple(ctx.attr("strides", [1] * rank))
    dilations = tuple(ctx.attr("dilations", [1] * rank))
    indices = node.op_type == "MaxPool" and len(node.outputs) > 1 and bool(node.outputs[1])
    ceil = bool(ctx.attr("ceil_mode", 0))
    pads = spatial_pads(ctx, shape[2:], kernel, strides, dilations)
    wanted = [_out_len(n, k, s, d, b, e, ceil)
              for n, k, s, d, (b, e) in zip(shape[2:], kernel, strides, dilations, pads)]
    include_pad = bool(ctx.attr("count_include_pad", 0))
    if any(d != 1 for d in dilations) or pool_type == "lp" or indices:
        # MXNet's lp pooling only takes p in {1, 2, 3} and differs at the borders
        return _dilated(ctx, pool_type, kernel, strides, dilations, pads, wanted, include_pad, indices)
    x = ctx.input(0)
    work = np.dtype("float64") if cast else ctx.dtype(0)
    if cast:
        x = mx.sym.Cast(x, dtype=work)
    extra = {}
    if pool_type == "lp":
        extra["p_value"] = ctx.attr("p", 2)
    symmetric = all(b == e for b, e in pads)
    if pool_type == "avg" and not include_pad and any(b or e for b, e in pads):
        # Average over the real elements only: pool a zero-padded copy and a padded mask of ones.
        padded, _ = pad_blocks(ctx, x, shape, [(0, 0), (0, 0)] + pads, dtype=work, tag="xpad")
        mask, _ = pad_blocks(ctx, mx.sym.ones_like(x), shape, [(0, 0), (0, 0)] + pads, dtype=work,
                             tag="mpad")
        total = _window(ctx, padded, kernel, strides, "avg", ceil, True, extra)
        count = _window(ctx, mask, kernel, strides, "avg", ceil, True, extra)
        out = mx.sym.broadcast_div(total, count)
    else:
        if not symmetric or pool_type == "lp" and any(b for b, _ in pads):
            value = float("-inf") if pool_type == "max" else 0.0
            x, _ = pad_blocks(ctx, x, shape, [(0, 0), (0, 0)] + pads, value=value, dtype=work)
            pads = [(0, 0)] * rank
        out = _window(ctx, x, kernel, strides, pool_type, ceil, include_pad, extra, tuple(b for b, _ in pads))
    return _crop(ctx, out, wanted)


def _dilated(ctx, pool_type, kernel, strides, dilations, pads, wanted, include_pad, indices=False):
    """MXNet's Pooling has no dilation: take one strided slice per kernel offset and reduce them.

    A mask of ones marks what an average counts (the input, plus the explicit pads when
    count_include_pad=1); windows that run past the pads in ceil mode count nothing there.
    """
    import itertools

    shape = ctx.shape(0)
    need = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(wanted, strides, kernel, dilations)]
    extra = [max(0, n - (size + b + e)) for n, size, (b, e) in zip(need, shape[2:], pads)]
    full_pads = [(0, 0), (0, 0)] + [(b, e + x) for (b, e), x in zip(pads, extra)]
    value = float("-inf") if pool_type == "max" else 0.0
    x, _ = pad_blocks(ctx, ctx.input(0), shape, full_pads, value=value, dtype=ctx.dtype(0), tag="xpad")
    if pool_type == "lp":
        x = mx.sym.abs(x) ** ctx.attr("p", 2)
    mask = None
    if pool_type == "avg":
        ones, ones_shape = pad_blocks(ctx, mx.sym.ones_like(ctx.input(0)), shape, [(0, 0), (0, 0)] + list(pads),
                                      value=1.0 if include_pad else 0.0, dtype=ctx.dtype(0), tag="ones")
        mask, _ = pad_blocks(ctx, ones, ones_shape, [(0, 0), (0, 0)] + [(0, x_) for x_ in extra],
                             dtype=ctx.dtype(0), tag="mask")
    acc = count = best = None
    for offset in itertools.product(*(range(k) for k in kernel)):
        begin = (None, None) + tuple(o * d for o, d in zip(offset, dilations))
        end = (None, None) + tuple(o * d + (w - 1) * s + 1 for o, d, w, s in zip(offset, dilations, wanted, strides))
        step = (None, None) + tuple(strides)
        part = mx.sym.slice(x, begin=begin, end=end, step=step)
        if pool_type == "max" and indices:
            table = param(ctx, _flat_index(shape, offset, dilations, strides, wanted, pads,
                                           ctx.attr("storage_order", 0)), "idx" + "_".join(map(str, offset)))
            if acc is None:
                acc, best = part, table
            else:
                better = part > acc  # strict: the first maximum in scan order wins
                best = mx.sym.where(better, table, best)
                acc = mx.sym.maximum(acc, part)
        elif pool_type == "max":
            acc = part if acc is None else mx.sym.maximum(acc, part)
        else:
            acc = part if acc is None else acc + part
        if mask is not None:
            m = mx.sym.slice(mask, begin=begin, end=end, step=step)
            count = m if count is None else count + m
    if pool_type == "avg":
        acc = acc / count
    elif pool_type == "lp":
        acc = acc ** (1.0 / ctx.attr("p", 2))
    if indices:
        return [mx.sym.identity(acc, name=ctx.name), best]
    return mx.sym.identity(acc, name=ctx.name)


def _flat_index(shape, offset, dilations, strides, wanted, pads, storage_order):
    """For one kernel offset, the flat input index each output position reads (int64 table)."""
    n, c = shape[:2]
    spatial = [np.arange(w) * s + o * d - b for w, s, o, d, (b, _) in zip(wanted, strides, offset, dilations, pads)]
    grids = np.meshgrid(np.arange(n), np.arange(c), *spatial, indexing="ij")
    dims = list(shape[2:])
    if storage_order:  # column-major over the spatial dims
        flat = np.zeros_like(grids[0])
        for g, size in zip(reversed(grids[2:]), reversed(dims)):
            flat = flat * size + g
        flat = (grids[0] * c + grids[1]) * int(np.prod(dims)) + flat
        return flat.astype(np.int64)
    flat = grids[0] * c + grids[1]
    for g, size in zip(grids[2:], dims):
        flat = flat * size + g
    return flat.astype(np.int64)


def _window(ctx, x, kernel, strides, pool_type, ceil, include_pad, extra, pad=None):
    return mx.sym.Pooling(x, kernel=kernel, stride=strides, pad=pad or (0,) * len(kernel), pool_type=pool_type,
                          pooling_convention="full" if ceil else "valid", count_include_pad=include_pad, **extra)


def _crop(ctx, out, wanted):
    """MXNet's 'full' convention may add a window ONNX drops; slice back to ONNX's length."""
    return mx.sym.slice(out, begin=(None, None) + (0,) * len(wanted), end=(None, None) + tuple(wanted),
                        name=ctx.name)


@converter("MaxPool", since=1)
@converter("MaxPool", since=8)
@converter("MaxPool", since=10)
@converter("MaxPool", since=11)
@converter("MaxPool", since=12)
@converter("MaxPool", since=22)
def max_pool(node, ctx):
    dtype = ctx.dtype(0)
    if dtype in (np.float32, np.float64, np.float16):
        return _pool(node, ctx, "max")
    # MXNet pools floats only; max of integers is exact in float64 for |x| < 2**53
    out = _pool(node, ctx, "max", cast=True)
    return mx.sym.Cast(out, dtype=dtype)


@converter("AveragePool", since=7)
@converter("AveragePool", since=10)
@converter("AveragePool", since=11)
@converter("AveragePool", since=19)
@converter("AveragePool", since=22)
def average_pool(node, ctx):
    return _pool(node, ctx, "avg")


@converter("LpPool", since=2)
@converter("LpPool", since=11)
@converter("LpPool", since=18)
@converter("LpPool", since=22)
def lp_pool(node, ctx):
    return _pool(node, ctx, "lp")


@converter("GlobalAveragePool", since=1)
@converter("GlobalAveragePool", since=22)
@converter("GlobalMaxPool", since=1)
@converter("GlobalMaxPool", since=22)
@converter("GlobalLpPool", since=2)
def global_pool(node, ctx):
    rank = ctx.rank(0) - 2
    pool_type = {"GlobalAveragePool": "avg", "GlobalMaxPool": "max", "GlobalLpPool": "lp"}[node.op_type]
    extra = {"p_value": ctx.attr("p", 2)} if pool_type == "lp" else {}
    return mx.sym.Pooling(ctx.input(0), kernel=(1,) * rank, global_pool=True, pool_type=pool_type, name=ctx.name,
                          **extra)


@converter("RoiAlign", since=10)
@converter("RoiAlign", since=16)
def roi_align(node, ctx):
    """MXNet's contrib ROIAlign takes rois as (batch_index, x1, y1, x2, y2); its `aligned` is
    ONNX's half_pixel (the opset-16 default; opset 10 had output_half_pixel)."""
    if ctx.attr("mode", "avg") != "avg":
        raise ctx.unsupported(f"mode '{ctx.attr('mode')}'", "MXNet's ROIAlign averages")
    default = "half_pixel" if ctx.opset >= 16 else "output_half_pixel"
    aligned = ctx.attr("coordinate_transformation_mode", default) == "half_pixel"
    index = mx.sym.reshape(mx.sym.Cast(ctx.input(2), dtype="float32"), shape=(-1, 1))
    rois = mx.sym.concat(index, mx.sym.Cast(ctx.input(1), dtype="float32"), dim=1)
    ratio = ctx.attr("sampling_ratio", 0)
    return mx.sym.contrib.ROIAlign(ctx.input(0), rois, pooled_size=(ctx.attr("output_height", 1),
                                                                    ctx.attr("output_width", 1)),
                                   spatial_scale=ctx.attr("spatial_scale", 1.0), sample_ratio=ratio or -1,
                                   aligned=aligned, name=ctx.name)


@converter("MaxUnpool", since=9)
@converter("MaxUnpool", since=11)
@converter("MaxUnpool", since=22)
def max_unpool(node, ctx):
    """Scatter the values to their flat MaxPool indices in a zero tensor of the shape the pool
    came from; a larger output_shape keeps that at its origin and zero-fills the rest."""
    shape = ctx.shape(0)
    rank = len(shape) - 2
    kernel = ctx.attr("kernel_shape")
    strides = ctx.attr("strides", [1] * rank)
    flat = ctx.attr("pads", [0] * (2 * rank))
    inferred = tuple(shape[:2]) + tuple((n - 1) * s + k - flat[i] - flat[i + rank]
                                        for i, (n, s, k) in enumerate(zip(shape[2:], strides, kernel)))
    out = tuple(int(d) for d in ctx.require_const(2, "output_shape").reshape(-1)) if ctx.has_input(2) else inferred
    total = int(np.prod(inferred, dtype=np.int64))
    values = mx.sym.reshape(ctx.input(0), shape=(-1,))
    index = mx.sym.reshape(mx.sym.Cast(ctx.input(1), dtype="int64"), shape=(1, -1))
    y = mx.sym.reshape(mx.sym.scatter_nd(values, index, shape=(total,)), shape=inferred)
    if out != inferred:
        y, _ = pad_blocks(ctx, y, inferred, [(0, o - i) for o, i in zip(out, inferred)], dtype=ctx.dtype(0))
    return mx.sym.identity(y, name=ctx.name)
