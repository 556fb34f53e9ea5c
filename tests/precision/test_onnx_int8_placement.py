"""Where ONNX Runtime's int8 quantizer puts QDQ: never past the model's last compute op."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.precision.onnx_int8 import post_processing_nodes


def _model():
    """Conv -> Relu -> {Gemm head, box branch: Reshape -> Mul -> Add -> TopK}: a detector's shape."""
    w = numpy_helper.from_array(np.ones((4, 3, 1, 1), np.float32), "w")
    fc = numpy_helper.from_array(np.ones((4 * 8 * 8, 2), np.float32), "fc")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    k = numpy_helper.from_array(np.array([5], np.int64), "k")
    scale = numpy_helper.from_array(np.float32(2.0), "scale")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["flat"], name="flatten"),
             helper.make_node("Gemm", ["flat", "fc"], ["logits"], name="fc"),
             helper.make_node("Softmax", ["logits"], ["prob"], name="softmax"),
             helper.make_node("Mul", ["flat", "scale"], ["boxes"], name="decode_mul"),
             helper.make_node("Add", ["boxes", "boxes"], ["boxes2"], name="decode_add"),
             helper.make_node("TopK", ["boxes2", "k"], ["top", "idx"], name="topk")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("top", TensorProto.FLOAT, None)],
                              [w, fc, shape, k, scale])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_nodes_past_the_last_compute_op_are_kept_in_float():
    assert sorted(post_processing_nodes(_model())) == ["decode_add", "decode_mul", "softmax", "topk"]


def test_a_graph_of_compute_ops_only_keeps_nothing_back():
    model = _model()
    del model.graph.node[4:]  # up to the Gemm
    assert post_processing_nodes(model) == []
