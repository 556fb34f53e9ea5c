"""fold_batchnorm: BatchNorm after Convolution / FullyConnected folded into weight and bias.

At inference BatchNorm computes `(x - mean) / sqrt(var + eps) * gamma + beta` from its moving
statistics, whatever `use_global_stats` says (that flag only matters in training), so with
`s = gamma / sqrt(var + eps)` the producer becomes `W' = W * s` (per output channel) and
`b' = (b - mean) * s + beta` (`b = 0` for `no_bias` producers, which gain a bias).
`fix_gamma=True` (MXNet's default) means gamma is taken as 1 whatever is stored. Computed in
float64 and cast back, so the fold adds no more error than the float32 product itself.

Folded only when it is exact: the producer's output feeds nothing but this BatchNorm (and is
not a head), BatchNorm normalizes the producer's channel axis, its mean/var outputs are
unused, and its four parameters are stored params. A weight shared with another node is
copied under a new name instead of changed.
"""
from __future__ import annotations

import numpy as np

from pipeline.graph import edit
from pipeline.graph.shapes import tensor_info
from pipeline.graph.passes.base import flag, number, register_pass

PRODUCERS = ("Convolution", "FullyConnected")


def _channel_axis(op: str, attrs: dict, ndim: int) -> int | None:
    if op == "FullyConnected":
        return ndim - 1
    layout = attrs.get("layout", "None")
    return 1 if layout in ("None", "NCW", "NCHW", "NCDHW") else None


def _foldable(graph, bn, params, info) -> tuple[str, list[str]] | None:
    """(producer, [gamma, beta, mean, var]) when BatchNorm `bn` can be folded, else None."""
    ins = edit.input_entries(graph, bn)
    (prod, out), stats = ins[0], [src for src, _ in ins[1:5]]
    node = graph.nodes[prod]
    if node["op"] not in PRODUCERS or out != 0 or len(stats) != 4 or not all(s in params for s in stats):
        return None
    if edit.is_head(graph, prod) or any(v != bn for v, _ in edit.consumers(graph, prod)):
        return None
    if any(d["out"] != 0 for _, _, d in graph.out_edges(bn, data=True)) or \
            any(o != 0 for n, o, _ in graph.graph["heads"] if n == bn):
        return None
    ndim = len(info[(prod, 0)][0])
    axis = int(number(graph.nodes[bn]["attrs"], "axis", 1))
    if _channel_axis(node["op"], node["attrs"], ndim) != axis % ndim:
        return None
    if not all(src in params for src, _ in edit.input_entries(graph, prod)[1:]):
        return None
    return prod, stats


def _writable(graph, var: str, suffix: str) -> str:
    """`var` if only one node reads it; otherwise a fresh variable name for the folded copy."""
    return var if graph.out_degree(var) == 1 else edit.unique_name(graph, f"{var}_{suffix}")


@register_pass("fold_batchnorm", "fold BatchNorm into the preceding Convolution / FullyConnected")
def fold_batchnorm(graph, params, inputs):
    return fold_batchnorms(graph, params, inputs)


def fold_batchnorms(graph, params, inputs, keep: frozenset[str] = frozenset()):
    """Every foldable BatchNorm folded, except those named in `keep` (a quantizer's excluded nodes)."""
    bns = [n for n in edit.op_nodes(graph) if graph.nodes[n]["op"] == "BatchNorm" and n not in keep]
    info = tensor_info(graph, inputs) if bns else {}
    graph = edit.clone(graph)
    new_arg = {}
    for bn in bns:
        found = _foldable(graph, bn, params, info)
        if found is None:
            continue
        prod, (g_name, b_name, m_name, v_name) = found
        attrs = graph.nodes[bn]["attrs"]
        get = lambda n: new_arg[n] if n in new_arg else params.get(n)  # noqa: E731
        var = get(v_name).astype(np.float64)
        gamma = np.ones_like(var) if flag(attrs, "fix_gamma", True) else get(g_name).astype(np.float64)
        scale = gamma / np.sqrt(var + number(attrs, "eps", 1e-3))
        prod_ins = edit.input_entries(graph, prod)
        w_name = prod_ins[1][0]
        weight = get(w_name)
        shaped = scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        has_bias = len(prod_ins) > 2 and not flag(graph.nodes[prod]["attrs"], "no_bias", False)
        bias_in = prod_ins[2][0] if has_bias else None
        bias = get(bias_in).astype(np.float64) if bias_in else np.zeros_like(var)
        new_bias = (bias - get(m_name).astype(np.float64)) * scale + get(b_name).astype(np.float64)

        w_out = _writable(graph, w_name, "bnfold")
        if w_out != w_name:
            edit.add_variable(graph, w_out, "param", graph.nodes[w_name]["order"])
        if bias_in:
            b_out = _writable(graph, bias_in, "bnfold")
            if b_out != bias_in:
                edit.add_variable(graph, b_out, "param", graph.nodes[bias_in]["order"])
        else:
            b_out = edit.add_variable(graph, edit.unique_name(graph, f"{prod}_bias"), "param",
                                      graph.nodes[w_name]["order"] + 0.1)
            graph.nodes[prod]["attrs"] = {**graph.nodes[prod]["attrs"], "no_bias": "False"}
        new_arg[w_out] = (weight.astype(np.float64) * shaped).astype(weight.dtype)
        new_arg[b_out] = new_bias.astype(weight.dtype)
        edit.set_inputs(graph, prod, [prod_ins[0], (w_out, 0), (b_out, 0)])
        edit.redirect(graph, (bn, 0), (prod, 0))
        graph.remove_node(bn)
    edit.prune(graph)
    return graph, params.replace(arg=new_arg).restrict(graph.nodes)
