"""Max/Average/Lp pooling, global and windowed -> MXNet Pooling."""
from __future__ import annotations

import mxnet as mx

from stages.importers.onnx.padding import pad_blocks, spatial_pads
from stages.importers.onnx.registry import converter


def _out_len(size, k, s, d, b, e, ceil):
    span = (k - 1) * d + 1
    if ceil:
        n = -(-(size + b + e - span) // s) + 1
        if (n - 1) * s >= size + b:  # ONNX: the last window must start inside the input or the left pad
            n -= 1
        return n
    return (size + b + e - span) // s + 1


def _pool(node, ctx, pool_type: str):
    shape = ctx.shape(0)
    rank = len(shape) - 2
    kernel = tuple(ctx.attr("kernel_shape"))
    strides = tuple(ctx.attr("strides", [1] * rank))
    dilations = tuple(ctx.attr("dilations", [1] * rank))
    if any(d != 1 for d in dilations):
        raise ctx.unsupported("dilations other than 1", "MXNet's Pooling has no dilation")
    if node.op_type == "MaxPool" and len(node.outputs) > 1 and node.outputs[1]:
        raise ctx.unsupported("the Indices output")
    ceil = bool(ctx.attr("ceil_mode", 0))
    pads = spatial_pads(ctx, shape[2:], kernel, strides, dilations)
    wanted = [_out_len(n, k, s, 1, b, e, ceil) for n, k, s, (b, e) in zip(shape[2:], kernel, strides, pads)]
    include_pad = bool(ctx.attr("count_include_pad", 0))
    x = ctx.input(0)
    extra = {}
    if pool_type == "lp":
        extra["p_value"] = ctx.attr("p", 2)
    symmetric = all(b == e for b, e in pads)
    if pool_type == "avg" and not include_pad and any(b or e for b, e in pads):
        # Average over the real elements only: pool a zero-padded copy and a padded mask of ones.
        padded, _ = pad_blocks(ctx, x, shape, [(0, 0), (0, 0)] + pads, dtype=ctx.dtype(0), tag="xpad")
        mask, _ = pad_blocks(ctx, mx.sym.ones_like(x), shape, [(0, 0), (0, 0)] + pads, dtype=ctx.dtype(0),
                             tag="mpad")
        total = _window(ctx, padded, kernel, strides, "avg", ceil, True, extra)
        count = _window(ctx, mask, kernel, strides, "avg", ceil, True, extra)
        out = mx.sym.broadcast_div(total, count)
    else:
        if not symmetric or pool_type == "lp" and any(b for b, _ in pads):
            value = float("-inf") if pool_type == "max" else 0.0
            x, _ = pad_blocks(ctx, x, shape, [(0, 0), (0, 0)] + pads, value=value, dtype=ctx.dtype(0))
            pads = [(0, 0)] * rank
        out = _window(ctx, x, kernel, strides, pool_type, ceil, include_pad, extra, tuple(b for b, _ in pads))
    return _crop(ctx, out, wanted)


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
    return _pool(node, ctx, "max")


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
