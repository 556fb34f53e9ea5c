"""Label inputs of training heads: found so inference can bind without them.

A checkpoint saved from training keeps `SoftmaxOutput(data, softmax_label)`; the head's
forward ignores the label, but MXNet still needs an array bound to it. The guide fed a random
one (`args['softmax_label'] = mx.nd.random_normal(...)`); we bind zeros of the inferred shape.
"""
from __future__ import annotations

import json

LOSS_HEADS = frozenset({"SoftmaxOutput", "LinearRegressionOutput", "LogisticRegressionOutput",
                        "MAERegressionOutput", "SVMOutput"})


def label_variables(symbol_json: str) -> list[str]:
    """Names of variables that feed a loss head as its label (input 1)."""
    graph = json.loads(symbol_json)
    nodes = graph["nodes"]
    labels = []
    for node in nodes:
        if node["op"] in LOSS_HEADS and len(node["inputs"]) > 1:
            src = nodes[node["inputs"][1][0]]
            if src["op"] == "null" and src["name"] not in labels:
                labels.append(src["name"])
    return labels
