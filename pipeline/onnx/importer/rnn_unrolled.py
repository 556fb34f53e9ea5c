"""LSTM, GRU and RNN unrolled over the (static) sequence with plain ops, exactly as ONNX writes
the equations: for what MXNet's fused RNN op cannot express (GRU linear_before_reset=0,
peepholes, input_forget, clip, other activations such as Keras' HardSigmoid).
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import param

_DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _activation(name: str, alpha, beta):
    """ONNX's RNN activation functions with their default alpha/beta."""
    key = name.lower()
    table = {
        "sigmoid": lambda x: mx.sym.sigmoid(x),
        "tanh": lambda x: mx.sym.tanh(x),
        "relu": lambda x: mx.sym.relu(x),
        "softsign": lambda x: mx.sym.Activation(x, act_type="softsign"),
        "softplus": lambda x: mx.sym.Activation(x, act_type="softrelu"),
        "affine": lambda x: x * (1.0 if alpha is None else alpha) + (0.0 if beta is None else beta),
        "leakyrelu": lambda x: mx.sym.LeakyReLU(x, act_type="leaky", slope=0.01 if alpha is None else alpha),
        "thresholdedrelu": lambda x: x * (x > (1.0 if alpha is None else alpha)),
        "scaledtanh": lambda x: mx.sym.tanh(x * (1.0 if beta is None else beta)) * (1.0 if alpha is None else alpha),
        "hardsigmoid": lambda x: mx.sym.hard_sigmoid(x, alpha=0.2 if alpha is None else alpha,
                                                     beta=0.5 if beta is None else beta),
        "elu": lambda x: mx.sym.LeakyReLU(x, act_type="elu", slope=1.0 if alpha is None else alpha),
    }
    if key not in table:
        return None
    return table[key]


def _activations(node, ctx, directions):
    names = list(ctx.attr("activations", [])) or _DEFAULTS[node.op_type] * directions
    per = len(_DEFAULTS[node.op_type])
    if len(names) == per and directions == 2:
        names = names * 2
    alphas, betas = list(ctx.attr("activation_alpha", [])), list(ctx.attr("activation_beta", []))
    fns = []
    for k, name in enumerate(names):
        fn = _activation(name, alphas[k] if k < len(alphas) else None, betas[k] if k < len(betas) else None)
        if fn is None:
            raise ctx.unsupported(f"activation '{name}'")
        fns.append(fn)
    return [fns[d * per:(d + 1) * per] for d in range(directions)]


def unrolled(node, ctx, state_input, outputs):
    kind = node.op_type
    gates = _GATES[kind]
    batch_first = bool(ctx.attr("layout", 0))
    shape = ctx.shape(0)
    seq, batch = (shape[1], shape[0]) if batch_first else (shape[0], shape[1])
    hidden = int(ctx.attr("hidden_size"))
    direction = ctx.attr("direction", "forward")
    directions = 2 if direction == "bidirectional" else 1
    w = ctx.require_const(1, "W").astype(np.float32)
    r = ctx.require_const(2, "R").astype(np.float32)
    b = ctx.require_const(3, "B").astype(np.float32) if ctx.has_input(3) else \
        np.zeros((directions, 2 * gates * hidden), np.float32)
    peep = ctx.require_const(7, "P").astype(np.float32) if kind == "LSTM" and ctx.has_input(7) else None
    clip = ctx.attr("clip", None)
    lbr = bool(ctx.attr("linear_before_reset", 0))
    couple = kind == "LSTM" and bool(ctx.attr("input_forget", 0))
    acts = _activations(node, ctx, directions)
    x = ctx.input(0)
    if batch_first:
        x = mx.sym.transpose(x, axes=(1, 0, 2))
    steps = mx.sym.split(x, num_outputs=seq, axis=0, squeeze_axis=True) if seq > 1 else \
        [mx.sym.reshape(x, shape=(batch, -1))]
    h0 = state_input(5, (directions, batch, hidden), batch_first, "h0")
    c0 = state_input(6, (directions, batch, hidden), batch_first, "c0") if kind == "LSTM" else None

    def pre(v):
        return mx.sym.clip(v, a_min=-clip, a_max=clip) if clip is not None else v

    ys, hs, cs = [], [], []
    for d in range(directions):
        f, g, h_act = (acts[d] + [None, None])[:3]
        reverse = direction == "reverse" or d == 1
        wg = [param(ctx, m, f"w{d}_{k}") for k, m in enumerate(np.split(w[d], gates))]
        rg = [param(ctx, m, f"r{d}_{k}") for k, m in enumerate(np.split(r[d], gates))]
        bias = np.split(b[d], 2 * gates)
        wb = [param(ctx, bias[k], f"wb{d}_{k}") for k in range(gates)]
        rb = [param(ctx, bias[gates + k], f"rb{d}_{k}") for k in range(gates)]
        pg = [param(ctx, m, f"p{d}_{k}") for k, m in enumerate(np.split(peep[d], 3))] if peep is not None else None

        def fc(data, weight, bias_):
            return mx.sym.FullyConnected(data, weight=weight, bias=bias_, num_hidden=hidden)

        h = mx.sym.reshape(mx.sym.slice_axis(h0, axis=0, begin=d, end=d + 1), shape=(batch, hidden))
        c = mx.sym.reshape(mx.sym.slice_axis(c0, axis=0, begin=d, end=d + 1), shape=(batch, hidden)) \
            if c0 is not None else None
        outs = [None] * seq
        for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
            xt = steps[t]
            if kind == "RNN":
                h = f(pre(fc(xt, wg[0], wb[0]) + fc(h, rg[0], rb[0])))
            elif kind == "GRU":
                z = f(pre(fc(xt, wg[0], wb[0]) + fc(h, rg[0], rb[0])))
                rr = f(pre(fc(xt, wg[1], wb[1]) + fc(h, rg[1], rb[1])))
                recur = rr * fc(h, rg[2], rb[2]) if lbr else fc(rr * h, rg[2], rb[2])
                cand = g(pre(fc(xt, wg[2], wb[2]) + recur))
                h = (1 - z) * cand + z * h
            else:  # LSTM, ONNX gate order i, o, f, c; peepholes i, o, f
                gi = fc(xt, wg[0], wb[0]) + fc(h, rg[0], rb[0])
                go = fc(xt, wg[1], wb[1]) + fc(h, rg[1], rb[1])
                gf = fc(xt, wg[2], wb[2]) + fc(h, rg[2], rb[2])
                gc = fc(xt, wg[3], wb[3]) + fc(h, rg[3], rb[3])
                if pg is not None:
                    gi = gi + mx.sym.broadcast_mul(c, mx.sym.expand_dims(pg[0], axis=0))
                    gf = gf + mx.sym.broadcast_mul(c, mx.sym.expand_dims(pg[2], axis=0))
                i_t = f(pre(gi))
                f_t = 1 - i_t if couple else f(pre(gf))
                c = f_t * c + i_t * g(pre(gc))
                if pg is not None:
                    go = go + mx.sym.broadcast_mul(c, mx.sym.expand_dims(pg[1], axis=0))
                h = f(pre(go)) * h_act(c)
            outs[t] = mx.sym.expand_dims(h, axis=0)
        ys.append(mx.sym.concat(*outs, dim=0) if seq > 1 else outs[0])
        hs.append(mx.sym.expand_dims(h, axis=0))
        if c is not None:
            cs.append(mx.sym.expand_dims(c, axis=0))
    out = mx.sym.concat(*ys, dim=2) if directions == 2 else ys[0]
    hy = mx.sym.concat(*hs, dim=0) if directions == 2 else hs[0]
    cy = (mx.sym.concat(*cs, dim=0) if directions == 2 else cs[0]) if cs else None
    return outputs(node, ctx, out, hy, cy, seq, batch, directions, hidden, batch_first)
