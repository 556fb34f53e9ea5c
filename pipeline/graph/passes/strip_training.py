"""strip_training: loss heads become the inference ops they compute; label variables go.

MXNet's loss heads are identities or activations in forward and only differ in backward, but
they keep a label argument that inference must bind. SoftmaxOutput's forward is a softmax
whose axis depends on its flags (softmax_output-inl.h): `multi_output` -> over axis 1;
else `preserve_shape` -> over the last axis; else over all non-batch elements jointly (the
data reshaped to (n, -1)), which for 2-d data is the last axis and otherwise needs
Flatten -> softmax -> reshape_like. The op that computes the result takes the head's name.

MXNet 1.9.1's oneDNN kernel for SoftmaxOutput (used for 4-d data without flags when oneDNN
is enabled) computes over the last axis instead, unlike the reference kernel and the docs.
The pass matches what this MXNet actually serves: it probes the default form once per rank
on a small random tensor and emits whichever softmax the probe agrees with, so the guard
compares like with like.
"""
from __future__ import annotations

import functools

import numpy as np

from pipeline.graph import edit
from pipeline.graph.shapes import tensor_info
from pipeline.graph.passes.base import flag, register_pass

IDENTITY_HEADS = ("LinearRegressionOutput", "MAERegressionOutput", "SVMOutput")


@functools.lru_cache(maxsize=None)
def served_default_axis(ndim: int) -> str:
    """'joint' or 'last': how this MXNet computes SoftmaxOutput without flags on rank-`ndim` data."""
    import mxnet as mx

    shape = (2, 3, 4, 5, 2, 2)[:ndim]
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    label = mx.sym.var("label")
    sym = mx.sym.SoftmaxOutput(mx.sym.var("x"), label, name="probe")
    label_shape = dict(zip(sym.list_arguments(), sym.infer_shape(x=shape)[0]))["label"]
    got = sym.eval(x=mx.nd.array(x), label=mx.nd.zeros(label_shape))[0].asnumpy()
    last = np.exp(x - x.max(-1, keepdims=True))
    last /= last.sum(-1, keepdims=True)
    return "last" if np.allclose(got, last, atol=1e-5) else "joint"


def _softmax(graph, name, data, ndim, attrs, order):
    """Replace SoftmaxOutput `name` by the equivalent softmax, reading tensor `data`."""
    graph.remove_node(name)
    if flag(attrs, "multi_output", False):
        edit.add_op(graph, name, "softmax", {"axis": 1}, [data], order)
    elif flag(attrs, "preserve_shape", False) or ndim <= 2 or served_default_axis(ndim) == "last":
        edit.add_op(graph, name, "softmax", {"axis": -1}, [data], order)
    else:
        flat = edit.add_op(graph, edit.unique_name(graph, f"{name}_flatten"), "Flatten", {}, [data], order - 0.2)
        soft = edit.add_op(graph, edit.unique_name(graph, f"{name}_softmax"), "softmax", {"axis": -1},
                           [(flat, 0)], order - 0.1)
        edit.add_op(graph, name, "reshape_like", {}, [(soft, 0), data], order)


@register_pass("strip_training", "loss heads (SoftmaxOutput, *RegressionOutput) -> inference ops; labels dropped")
def strip_training(graph, params, inputs):
    heads = [n for n in edit.op_nodes(graph)
             if graph.nodes[n]["op"] in ("SoftmaxOutput", "LogisticRegressionOutput") + IDENTITY_HEADS]
    if not heads:
        return edit.clone(graph), params
    info = tensor_info(graph, inputs)
    graph = edit.clone(graph)
    labels = set()
    for name in heads:
        node = dict(graph.nodes[name])
        ins = edit.input_entries(graph, name)
        data = ins[0]
        labels |= {src for src, _ in ins[1:] if edit.is_variable(graph, src)}
        consumers = [(v, d) for _, v, d in graph.out_edges(name, data=True)]
        head_slots = [i for i, (n, _, _) in enumerate(graph.graph["heads"]) if n == name]
        if node["op"] in IDENTITY_HEADS:
            edit.redirect(graph, (name, 0), data)
            graph.remove_node(name)
            continue
        if node["op"] == "LogisticRegressionOutput":
            graph.remove_node(name)
            edit.add_op(graph, name, "sigmoid", {}, [data], node["order"])
        else:
            _softmax(graph, name, data, len(info[data][0]), node["attrs"], node["order"])
        for v, d in consumers:  # remove_node dropped the out-edges; the new node has the same name
            graph.add_edge(name, v, **d)
        for i in head_slots:
            graph.graph["heads"][i] = (name, 0, 0)
    graph.remove_nodes_from([n for n in labels if graph.out_degree(n) == 0])
    return graph, params.restrict(graph.nodes)
