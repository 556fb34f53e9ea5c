"""Reductions and ArgMax/ArgMin.

`axes` is an attribute until ReduceSum-13 and the other ReduceX-18, then an optional input;
an empty `axes` means all axes unless `noop_with_empty_axes` is set.
"""
from __future__ import annotations

import mxnet as mx

from pipeline.onnx.importer.context import norm_axis, reshape
from pipeline.onnx.importer.registry import converter


def _axes(node, ctx, input_since: int) -> tuple[int, ...] | None:
    """The reduced axes (normalized), or None for 'reduce nothing' (noop_with_empty_axes)."""
    rank = ctx.rank(0)
    if ctx.opset >= input_since:
        axes = [] if not ctx.has_input(1) else [int(a) for a in ctx.require_const(1, "axes").reshape(-1)]
    else:
        axes = list(ctx.attr("axes", []))
    if not axes:
        return None if ctx.attr("noop_with_empty_axes", 0) else tuple(range(rank))
    return tuple(sorted(norm_axis(a, rank) for a in axes))


def _reduce(node, ctx, input_since: int, body):
    x = ctx.input(0)
    axes = _axes(node, ctx, input_since)
    if axes is None:
        return mx.sym.identity(x, name=ctx.name)
    keep = bool(ctx.attr("keepdims", 1))
    shape = ctx.shape(0)
    if not axes:  # a scalar input
        return mx.sym.identity(x, name=ctx.name)
    out = body(x, axes)
    dims = [1 if i in axes else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in axes]
    return reshape(ctx, out, dims, "shape")


def _sum(x, axes):
    return mx.sym.sum(x, axis=axes, keepdims=True)


_BODIES = {
    "ReduceSum": _sum,
    "ReduceMean": lambda x, axes: mx.sym.mean(x, axis=axes, keepdims=True),
    "ReduceMax": lambda x, axes: mx.sym.max(x, axis=axes, keepdims=True),
    "ReduceMin": lambda x, axes: mx.sym.min(x, axis=axes, keepdims=True),
    "ReduceProd": lambda x, axes: mx.sym.prod(x, axis=axes, keepdims=True),
    "ReduceL1": lambda x, axes: _sum(mx.sym.abs(x), axes),
    "ReduceL2": lambda x, axes: mx.sym.sqrt(_sum(mx.sym.square(x), axes)),
    "ReduceSumSquare": lambda x, axes: _sum(mx.sym.square(x), axes),
    "ReduceLogSum": lambda x, axes: mx.sym.log(_sum(x, axes)),
    "ReduceLogSumExp": lambda x, axes: _logsumexp(x, axes),
}


def _logsumexp(x, axes):
    """Shifted by the max so large inputs do not overflow, as ONNX Runtime does."""
    top = mx.sym.max(x, axis=axes, keepdims=True)
    return mx.sym.broadcast_add(mx.sym.log(_sum(mx.sym.exp(mx.sym.broadcast_sub(x, top)), axes)), top)


def _register(op: str, versions: tuple[int, ...], input_since: int):
    def convert(node, ctx):
        return _reduce(node, ctx, input_since, _BODIES[op])

    convert.__name__ = f"convert_{op}"
    for v in versions:
        converter(op, since=v)(convert)


_register("ReduceSum", (1, 11, 13), 13)
for _op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
            "ReduceLogSum", "ReduceLogSumExp"):
    _versions = (1, 11, 13, 18) + ((20,) if _op in ("ReduceMax", "ReduceMin") else ())
    _register(_op, _versions, 18)


@converter("ArgMax", since=1)
@converter("ArgMax", since=11)
@converter("ArgMax", since=12)
@converter("ArgMax", since=13)
@converter("ArgMin", since=1)
@converter("ArgMin", since=11)
@converter("ArgMin", since=12)
@converter("ArgMin", since=13)
def arg_extreme(node, ctx):
    """MXNet returns float indices of the first hit; select_last_index searches a reversed copy."""
    x = ctx.input(0)
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attr("axis", 0), len(shape))
    keep = bool(ctx.attr("keepdims", 1))
    fn = mx.sym.argmax if node.op_type == "ArgMax" else mx.sym.argmin
    last = bool(ctx.attr("select_last_index", 0))
    if last:
        x = mx.sym.reverse(x, axis=axis)
    idx = fn(x, axis=axis, keepdims=True)
    if last:
        idx = (shape[axis] - 1) - idx
    dims = [1 if i == axis else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i != axis]
    return mx.sym.Cast(reshape(ctx, idx, dims, "shape"), dtype="int64", name=ctx.name)
