"""Activations, softmax family and Clip."""
from __future__ import annotations

import math

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, reshape
from pipeline.onnx.importer.registry import converter


@converter("Relu", since=6)
@converter("Relu", since=13)
@converter("Relu", since=14)
def relu(node, ctx):
    return mx.sym.relu(ctx.input(0), name=ctx.name)


@converter("Sigmoid", since=6)
@converter("Sigmoid", since=13)
def sigmoid(node, ctx):
    return mx.sym.sigmoid(ctx.input(0), name=ctx.name)


@converter("Tanh", since=6)
@converter("Tanh", since=13)
def tanh(node, ctx):
    return mx.sym.tanh(ctx.input(0), name=ctx.name)


@converter("LeakyRelu", since=6)
@converter("LeakyRelu", since=16)
def leaky_relu(node, ctx):
    return mx.sym.LeakyReLU(ctx.input(0), act_type="leaky", slope=ctx.attr("alpha", 0.01), name=ctx.name)


@converter("PRelu", since=7)
@converter("PRelu", since=9)
@converter("PRelu", since=16)
def prelu(node, ctx):
    """ONNX broadcasts the slope numpy-style; MXNet's prelu wants it per channel, so compose."""
    x, slope = ctx.input(0), ctx.input(1)
    neg = mx.sym.broadcast_mul(mx.sym.minimum(x, 0), slope)
    return mx.sym.broadcast_add(mx.sym.relu(x), neg, name=ctx.name)


@converter("Elu", since=6)
@converter("Elu", since=22)
def elu(node, ctx):
    return mx.sym.LeakyReLU(ctx.input(0), act_type="elu", slope=ctx.attr("alpha", 1.0), name=ctx.name)


@converter("Selu", since=6)
@converter("Selu", since=22)
def selu(node, ctx):
    alpha = ctx.attr("alpha", 1.67326319217681884765625)
    gamma = ctx.attr("gamma", 1.05070102214813232421875)
    x = ctx.input(0)
    return mx.sym.identity(gamma * (mx.sym.relu(x) + alpha * (mx.sym.exp(mx.sym.minimum(x, 0)) - 1)), name=ctx.name)


@converter("Celu", since=12)
def celu(node, ctx):
    alpha = ctx.attr("alpha", 1.0)
    x = ctx.input(0)
    return mx.sym.identity(mx.sym.relu(x) + mx.sym.minimum(alpha * (mx.sym.exp(x / alpha) - 1), 0), name=ctx.name)


@converter("HardSigmoid", since=6)
@converter("HardSigmoid", since=22)
def hard_sigmoid(node, ctx):
    return mx.sym.hard_sigmoid(ctx.input(0), alpha=ctx.attr("alpha", 0.2), beta=ctx.attr("beta", 0.5), name=ctx.name)


@converter("HardSwish", since=14)
@converter("HardSwish", since=22)
def hard_swish(node, ctx):
    x = ctx.input(0)
    return mx.sym.broadcast_mul(x, mx.sym.hard_sigmoid(x, alpha=1.0 / 6, beta=0.5), name=ctx.name)


@converter("Softplus", since=1)
@converter("Softplus", since=22)
def softplus(node, ctx):
    return mx.sym.Activation(ctx.input(0), act_type="softrelu", name=ctx.name)


@converter("Softsign", since=1)
@converter("Softsign", since=22)
def softsign(node, ctx):
    return mx.sym.Activation(ctx.input(0), act_type="softsign", name=ctx.name)


@converter("Mish", since=18)
@converter("Mish", since=22)
def mish(node, ctx):
    x = ctx.input(0)
    return mx.sym.broadcast_mul(x, mx.sym.tanh(mx.sym.Activation(x, act_type="softrelu")), name=ctx.name)


@converter("ThresholdedRelu", since=10)
@converter("ThresholdedRelu", since=22)
def thresholded_relu(node, ctx):
    x = ctx.input(0)
    return mx.sym.broadcast_mul(x, x > ctx.attr("alpha", 1.0), name=ctx.name)


@converter("Shrink", since=9)
def shrink(node, ctx):
    x = ctx.input(0)
    lambd, bias = ctx.attr("lambd", 0.5), ctx.attr("bias", 0.0)
    out = (x < -lambd) * (x + bias) + (x > lambd) * (x - bias)
    return mx.sym.Cast(out, dtype=ctx.dtype(0), name=ctx.name)


@converter("Gelu", since=20)
def gelu(node, ctx):
    """approximate='none' is x*Phi(x) via erf; 'tanh' is the tanh formula, exactly as ONNX writes it."""
    x = ctx.input(0)
    if ctx.attr("approximate", "none") == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * (x ** 3))
        return mx.sym.identity(0.5 * x * (1 + mx.sym.tanh(inner)), name=ctx.name)
    return mx.sym.identity(0.5 * x * (1 + mx.sym.erf(x / math.sqrt(2))), name=ctx.name)


def _softmax_like(node, ctx, fn):
    """Opset < 13 flattens to 2-D at `axis` (default 1); opset 13 works on one axis (default -1)."""
    x = ctx.input(0)
    rank = ctx.rank(0)
    if ctx.opset >= 13:
        return fn(x, norm_axis(ctx.attr("axis", -1), rank))
    axis = norm_axis(ctx.attr("axis", 1), rank)
    shape = ctx.shape(0)
    if axis == rank - 1:
        return fn(x, axis)
    flat = reshape(ctx, x, (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64))),
                   "flat")
    return reshape(ctx, fn(flat, 1), shape, "unflat")


@converter("Softmax", since=1)
@converter("Softmax", since=11)
@converter("Softmax", since=13)
def softmax(node, ctx):
    return _softmax_like(node, ctx, lambda x, axis: mx.sym.softmax(x, axis=axis, name=ctx.name))


@converter("LogSoftmax", since=1)
@converter("LogSoftmax", since=11)
@converter("LogSoftmax", since=13)
def log_softmax(node, ctx):
    return _softmax_like(node, ctx, lambda x, axis: mx.sym.log_softmax(x, axis=axis, name=ctx.name))


@converter("Hardmax", since=1)
@converter("Hardmax", since=11)
@converter("Hardmax", since=13)
def hardmax(node, ctx):
    def fn(x, axis):
        depth = ctx.shape(0)[axis] if ctx.opset >= 13 else int(np.prod(ctx.shape(0)[axis:], dtype=np.int64))
        idx = mx.sym.argmax(x, axis=axis, keepdims=False)
        hot = mx.sym.one_hot(idx, depth=depth, dtype=ctx.dtype(0))
        last = len(ctx.shape(0)) - 1 if ctx.opset >= 13 else 1
        if axis != last:
            axes = list(range(last))
            axes.insert(axis, last)
            hot = mx.sym.transpose(hot, axes=axes)
        return mx.sym.identity(hot, name=ctx.name)

    return _softmax_like(node, ctx, fn)


@converter("Clip", since=6)
@converter("Clip", since=11)
@converter("Clip", since=12)
@converter("Clip", since=13)
def clip(node, ctx):
    """Bounds are attributes before opset 11 and optional inputs after; either may be absent."""
    x = ctx.input(0)
    if ctx.opset < 11:
        lo, hi = ctx.attr("min", None), ctx.attr("max", None)
    else:
        # Bounds are usually constants; a bound computed at run time stays a Symbol.
        lo = _static_or_symbol(ctx, 1)
        hi = _static_or_symbol(ctx, 2)
    if lo is None and hi is None:
        return mx.sym.identity(x, name=ctx.name)
    static = all(v is None or isinstance(v, float) for v in (lo, hi))
    if static and lo is not None and hi is not None:
        # One clip op (what oneDNN fuses as ReLU6); ONNX gives every element `max` when min > max.
        return mx.sym.clip(x, a_min=min(lo, hi), a_max=hi, name=ctx.name)
    out = x
    if lo is not None:
        out = mx.sym.maximum(out, lo) if isinstance(lo, float) else mx.sym.broadcast_maximum(out, lo)
    if hi is not None:
        out = mx.sym.minimum(out, hi) if isinstance(hi, float) else mx.sym.broadcast_minimum(out, hi)
    return mx.sym.identity(out, name=ctx.name)


def _static_or_symbol(ctx, i):
    if not ctx.has_input(i):
        return None
    value = ctx.const(i)
    return float(value.reshape(())) if value is not None else ctx.input(i)
