"""Write examples/legacy-mlp-*: the digits MLP in MXNet's pre-1.0 (v0.8-era) symbol JSON.

Old graphs stored operator attributes under "param", carried "backward_source_id" per node,
and had no "attrs": {"mxnet_version": ...}. MXNet 1.9.1 upgrades such a file on load
(legacy_json_util: "Loading symbol saved by previous version v0.8.0"). The weights are the
digits MLP's with its in-graph /16 pixel scaling folded into fc1_weight, so both checkpoints
compute the same function of raw pixels. Run after train_digits_mlp.py:

    python examples/make_legacy_mlp.py
"""
import json
from pathlib import Path
import mxnet as mx
from pipeline.core import atomic

ex = Path(__file__).resolve().parent
nodes = [
    {"op": "null", "param": {}, "name": "data", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "fc1_weight", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "fc1_bias", "inputs": [], "backward_source_id": -1},
    {"op": "FullyConnected", "param": {"no_bias": "False", "num_hidden": "32"}, "name": "fc1",
     "inputs": [[0, 0], [1, 0], [2, 0]], "backward_source_id": -1},
    {"op": "Activation", "param": {"act_type": "relu"}, "name": "relu1", "inputs": [[3, 0]], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "fc2_weight", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "fc2_bias", "inputs": [], "backward_source_id": -1},
    {"op": "FullyConnected", "param": {"no_bias": "False", "num_hidden": "10"}, "name": "fc2",
     "inputs": [[4, 0], [5, 0], [6, 0]], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "softmax_label", "inputs": [], "backward_source_id": -1},
    {"op": "SoftmaxOutput", "param": {"grad_scale": "1", "ignore_label": "-1", "multi_output": "False",
                                      "normalization": "null", "use_ignore": "False"},
     "name": "softmax", "inputs": [[7, 0], [8, 0]], "backward_source_id": -1},
]
graph = {"nodes": nodes, "arg_nodes": [0, 1, 2, 5, 6, 8], "heads": [[9, 0]]}
lines = ["{", '  "nodes": ['] + [
    "    " + json.dumps(n) + ("," if i < len(nodes) - 1 else "") for i, n in enumerate(nodes)] + [
    "  ],", '  "arg_nodes": [0, 1, 2, 5, 6, 8],', '  "heads": [[9, 0]]', "}"]
atomic.write_text(ex / "legacy-mlp-symbol.json", "\n".join(lines) + "\n")
# the digits MLP's weights, with its in-graph /16 pixel scaling folded into fc1's weight
loaded = mx.nd.load(str(ex / "digits-mlp-0000.params"))
arrays = {k: v for k, v in loaded.items()}
arrays["arg:fc1_weight"] = arrays["arg:fc1_weight"] / 16.0
with atomic.atomic_path(ex / "legacy-mlp-0000.params") as tmp:
    mx.nd.save(str(tmp), arrays)
