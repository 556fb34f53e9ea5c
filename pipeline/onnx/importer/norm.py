"""Normalizations: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm, LRN, MVN, LpNorm; Dropout.

Static BatchNorm statistics map to MXNet's BatchNorm (its mean/var become aux params, which the
fold_batchnorm pass understands); anything else is composed from broadcast ops in float32.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, reshape
from pipeline.onnx.importer.registry import converter


@converter("BatchNormalization", since=7)
@converter("BatchNormalization", since=9)
@converter("BatchNormalization", since=14)
@converter("BatchNormalization", since=15)
def batch_norm(node, ctx):
    if ctx.attr("training_mode", 0):
        raise ctx.unsupported("training_mode=1", "export the model in eval mode")
    eps = ctx.attr("epsilon", 1e-5)
    if all(ctx.const(i) is not None for i in (1, 2, 3, 4)) and ctx.dtype(0) == np.float32:
        return mx.sym.BatchNorm(ctx.input(0), gamma=ctx.input(1), beta=ctx.input(2), moving_mean=ctx.input(3),
                                moving_var=ctx.input(4), eps=eps, fix_gamma=False, use_global_stats=True,
                                axis=1, name=ctx.name)
    view = (1, -1) + (1,) * (ctx.rank(0) - 2)
    scale, bias, mean, var = (mx.sym.reshape(ctx.input(i), shape=view) for i in (1, 2, 3, 4))
    x = mx.sym.broadcast_div(mx.sym.broadcast_sub(ctx.input(0), mean), mx.sym.sqrt(var + eps))
    return mx.sym.broadcast_add(mx.sym.broadcast_mul(x, scale), bias, name=ctx.name)


@converter("InstanceNormalization", since=6)
@converter("InstanceNormalization", since=22)
def instance_norm(node, ctx):
    return mx.sym.InstanceNorm(ctx.input(0), gamma=ctx.input(1), beta=ctx.input(2), eps=ctx.attr("epsilon", 1e-5),
                               name=ctx.name)


def _moments(x, axes):
    mean = mx.sym.mean(x, axis=axes, keepdims=True)
    centered = mx.sym.broadcast_sub(x, mean)
    var = mx.sym.mean(mx.sym.square(centered), axis=axes, keepdims=True)
    return mean, centered, var


@converter("LayerNormalization", since=17)
def layer_norm(node, ctx):
    """Normalizes over axes [axis, rank); outputs Mean and InvStdDev keep those axes as 1."""
    shape = ctx.shape(0)
    rank = len(shape)
    axis = norm_axis(ctx.attr("axis", -1), rank)
    eps = ctx.attr("epsilon", 1e-5)
    want_stats = any(o for o in node.outputs[1:])
    scale_shape = ctx.shape(1)
    if axis == rank - 1 and not want_stats and tuple(scale_shape) == (shape[-1],) and \
            (not ctx.has_input(2) or tuple(ctx.shape(2)) == (shape[-1],)) and ctx.dtype(0) == np.float32:
        beta = ctx.input(2) if ctx.has_input(2) else mx.sym.zeros_like(ctx.input(1))
        return mx.sym.LayerNorm(ctx.input(0), gamma=ctx.input(1), beta=beta, axis=-1, eps=eps, name=ctx.name)
    axes = tuple(range(axis, rank))
    x = ctx.input(0)
    dtype = ctx.dtype(0)
    if dtype != np.float32:
        x = mx.sym.Cast(x, dtype="float32")
    mean, centered, var = _moments(x, axes)
    inv = mx.sym.rsqrt(var + eps)
    y = mx.sym.broadcast_mul(centered, inv)
    if dtype != np.float32:
        y = mx.sym.Cast(y, dtype=dtype)
    y = mx.sym.broadcast_mul(y, ctx.input(1))
    if ctx.has_input(2):
        y = mx.sym.broadcast_add(y, ctx.input(2))
    return [mx.sym.identity(y, name=ctx.name), mean, inv]


@converter("GroupNormalization", since=18)
@converter("GroupNormalization", since=21)
def group_norm(node, ctx):
    """Opset 18 scales per group, 21 per channel; statistics are per (sample, group)."""
    shape = ctx.shape(0)
    n, c = shape[0], shape[1]
    groups = ctx.attr("num_groups")
    eps = ctx.attr("epsilon", 1e-5)
    grouped = mx.sym.reshape(ctx.input(0), shape=(n, groups, -1))
    _, centered, var = _moments(grouped, (2,))
    y = mx.sym.broadcast_mul(centered, mx.sym.rsqrt(var + eps))
    view = (1, -1) + (1,) * (len(shape) - 2)
    if ctx.opset < 21:
        y = mx.sym.reshape(y, shape=(n, groups, c // groups, -1))
        scale = mx.sym.reshape(ctx.input(1), shape=(1, groups, 1, 1))
        bias = mx.sym.reshape(ctx.input(2), shape=(1, groups, 1, 1))
        return reshape(ctx, mx.sym.broadcast_add(mx.sym.broadcast_mul(y, scale), bias), shape, "out")
    y = reshape(ctx, y, shape, "shape")
    y = mx.sym.broadcast_mul(y, mx.sym.reshape(ctx.input(1), shape=view))
    return mx.sym.broadcast_add(y, mx.sym.reshape(ctx.input(2), shape=view), name=ctx.name)


@converter("RMSNormalization", since=23)
def rms_norm(node, ctx):
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attr("axis", -1), len(shape))
    eps = ctx.attr("epsilon", 1e-5)
    x = ctx.input(0)
    dtype = ctx.dtype(0)
    if dtype != np.float32:
        x = mx.sym.Cast(x, dtype="float32")
    ms = mx.sym.mean(mx.sym.square(x), axis=tuple(range(axis, len(shape))), keepdims=True)
    y = mx.sym.broadcast_mul(x, mx.sym.rsqrt(ms + eps))
    if dtype != np.float32:
        y = mx.sym.Cast(y, dtype=dtype)
    return mx.sym.broadcast_mul(y, ctx.input(1), name=ctx.name)


@converter("LRN", since=1)
@converter("LRN", since=13)
def lrn(node, ctx):
    return mx.sym.LRN(ctx.input(0), alpha=ctx.attr("alpha", 1e-4), beta=ctx.attr("beta", 0.75),
                      knorm=ctx.attr("bias", 1.0), nsize=ctx.attr("size"), name=ctx.name)


@converter("MeanVarianceNormalization", since=9)
def mvn(node, ctx):
    rank = ctx.rank(0)
    axes = tuple(norm_axis(a, rank) for a in ctx.attr("axes", [0, 2, 3]))
    _, centered, var = _moments(ctx.input(0), axes)
    return mx.sym.broadcast_div(centered, mx.sym.sqrt(var) + 1e-9, name=ctx.name)


@converter("LpNormalization", since=1)
@converter("LpNormalization", since=22)
def lp_normalization(node, ctx):
    """x / ||x||_p along one axis, with no epsilon (mx2onnx writes MXNet's channel-mode
    L2Normalization, SSD-VGG's conv4_3 scaling, as this). A zero vector stays zero, as ONNX
    Runtime leaves it, instead of 0/0."""
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        raise ctx.unsupported(f"p={p}", "ONNX defines LpNormalization for p = 1 and 2 only")
    x = ctx.input(0)
    norm = mx.sym.norm(x, ord=p, axis=norm_axis(ctx.attr("axis", -1), ctx.rank(0)), keepdims=True)
    safe = mx.sym.where(norm == 0, mx.sym.ones_like(norm), norm)
    return mx.sym.broadcast_div(x, safe, name=ctx.name)


@converter("Dropout", since=7)
@converter("Dropout", since=10)
@converter("Dropout", since=12)
@converter("Dropout", since=13)
@converter("Dropout", since=22)
def dropout(node, ctx):
    """Inference: the identity, and a mask of ones when asked for."""
    if ctx.opset >= 12 and ctx.has_input(2):
        mode = ctx.const(2)
        if mode is None or bool(mode.reshape(())):
            raise ctx.unsupported("training_mode", "export the model in eval mode")
    x = ctx.input(0)
    out = mx.sym.identity(x, name=ctx.name)
    if len(node.outputs) > 1 and node.outputs[1]:
        return [out, mx.sym.ones_like(x)]
    return [out]
