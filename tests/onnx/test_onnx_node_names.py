"""pipeline/onnx/node_names.py: every exported node is named after its MXNet node, uniquely."""
import mxnet as mx
import numpy as np
from onnx import TensorProto, helper

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import NODE_MAP_KEY, to_onnx, valid_node_map
from pipeline.onnx.node_names import name_nodes


def test_every_exported_node_has_a_unique_name_from_its_mxnet_node():
    x = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=2, name="conv0")
    x = mx.sym.FullyConnected(mx.sym.relu(x, name="relu0"), num_hidden=3, name="fc0")
    sym = mx.sym.softmax(x, name="prob")
    rng = np.random.default_rng(0)
    params = {"conv0_weight": rng.standard_normal((2, 2, 3, 3)).astype("float32"), "conv0_bias": np.zeros(2, "float32"),
              "fc0_weight": rng.standard_normal((3, 18)).astype("float32"), "fc0_bias": np.zeros(3, "float32")}
    model = to_onnx(ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", (1, 2, 5, 5))]))
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names), names
    by_op = {n.op_type: n.name for n in model.graph.node}
    assert by_op["Conv"] == "conv0" and by_op["Softmax"] == "prob" and by_op["Flatten"].startswith("fc0")
    assert any(p.key == NODE_MAP_KEY for p in model.metadata_props) and valid_node_map(model)  # tensors untouched


def test_a_taken_name_gets_a_suffix_and_named_nodes_keep_theirs():
    nodes = [helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Relu", ["a"], ["b"], name="a"),
             helper.make_node("Relu", ["b"], ["c"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph)
    name_nodes(model)
    assert [n.name for n in model.graph.node] == ["a_1", "a", "c"]
