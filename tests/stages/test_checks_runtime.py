"""EI9xx: the graph binds on every declared shape, and the target's runtime opens the export."""
import mxnet as mx
import numpy as np
import pytest

from checks_helpers import SMALL, conv_net, make_bundle, run, subject
from pipeline.checks import RULES


def _conv(dtype="float32"):
    x = mx.sym.var("data")
    return make_bundle(mx.sym.Convolution(x, kernel=(3, 3), num_filter=2, name="conv0"), {"data": (1, 2, 5, 5)},
                       dtype=dtype, param_dtype=dtype)


def test_a_graph_that_binds_has_no_findings():
    bundle = make_bundle(conv_net(), SMALL)
    assert run("bind", subject(bundle, "cpu", extra=[{"data": (2, 3, 16, 16)}])) == []
    assert run("runtime-session", subject(bundle, "onnxruntime")) == []
    assert run("runtime-session", subject(bundle, "openvino")) == []


def test_a_shape_set_the_graph_cannot_bind_names_the_node_and_the_attribute():
    # the 3x3 kernel does not fit a 1x1 input once the 2x2 pool has halved nothing: conv0 refuses
    x = mx.sym.var("data")
    sym = mx.sym.Convolution(x, kernel=(5, 5), num_filter=2, name="conv0")
    bundle = make_bundle(sym, {"data": (1, 2, 8, 8)})
    (diag,) = RULES.get("bind")(subject(bundle, "cpu", extra=[{"data": (1, 2, 3, 3)}]))
    assert (diag.code, diag.severity, diag.node) == ("EI911", "error", "conv0")
    assert 'attribute kernel: "(5, 5)"' in diag.message and "MXNet 1.9.1 refused shape inference" in diag.message
    assert "\n" not in diag.message and "Stack trace" not in diag.message


def test_onnx_runtime_refusing_the_export_is_an_error_with_the_op():
    # ONNX Runtime has no float64 Conv kernel; MXNet runs it, so only opening the session tells
    (diag,) = RULES.get("runtime-session")(subject(_conv("float64"), "onnxruntime"))
    assert (diag.code, diag.severity, diag.node) == ("EI914", "error", "conv0")  # the MXNet node (node_names.py)
    assert "ONNX Runtime" in diag.message and "at node 'conv0' (op Conv)" in diag.message and "Conv(11)" in diag.message
    assert run("runtime-session", subject(_conv("float64"), "cpu")) == []  # MXNet's own executor is fine


def test_the_exporter_refusing_the_graph_names_the_node():
    x = mx.sym.var("data")
    bundle = make_bundle(mx.sym.relu(x, name="relu0"), {"data": (1, 8)}, dtype="int64", param_dtype="int64")
    (diag,) = RULES.get("runtime-session")(subject(bundle, "onnxruntime"))
    assert (diag.code, diag.node) == ("EI912", "relu0") and "EXP104" in diag.message


def test_an_exporter_warning_about_changed_semantics_is_a_coded_warning(capfd, monkeypatch):
    """mx2onnx logs its semantic warnings ("box_nms: id_idex != -1 ... will NOT be exempted from
    suppression"); the rule turns each into EI913 naming the node. Our own box_nms translation
    (pipeline/onnx/export_ops) made MXNet's warning go away, so a translation that warns is
    simulated here by logging the warning MXNet's box_nms converter used to log."""
    import logging

    import pipeline.onnx.export as export

    real = export.to_onnx

    def warning_to_onnx(bundle, **kwargs):
        logging.warning("box_nms: id_idex != -1 or/and force_suppress == False detected. However, due to ONNX "
                        "limitations, boxes of different categories will NOT be exempted from suppression.")
        return real(bundle, **kwargs)

    monkeypatch.setattr(export, "to_onnx", warning_to_onnx)
    x = mx.sym.var("data")
    nms = mx.sym.contrib.box_nms(x, overlap_thresh=0.5, topk=10, coord_start=2, score_index=1, id_index=0,
                                 name="nms0")
    bundle = make_bundle(nms, {"data": (1, 20, 6)})
    found = RULES.get("runtime-session")(subject(bundle, "onnxruntime"))
    assert [(d.code, d.severity, d.node) for d in found] == [("EI913", "warning", "nms0")]
    assert "will NOT be exempted from suppression" in found[0].message
    assert "WARNING" not in capfd.readouterr().err  # said once, as the diagnostic, not printed


def test_per_class_box_nms_exports_without_a_semantic_warning_now():
    """Our translation keeps per-class NMS (id_index set, force_suppress off): nothing to warn about."""
    x = mx.sym.var("data")
    nms = mx.sym.contrib.box_nms(x, overlap_thresh=0.5, topk=10, coord_start=2, score_index=1, id_index=0,
                                 name="nms0")
    assert RULES.get("runtime-session")(subject(make_bundle(nms, {"data": (1, 20, 6)}), "onnxruntime")) == []


def test_an_onnx_source_onnx_runtime_refuses_is_an_error(tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph([helper.make_node("Relu", ["X"], ["Y"], name="n0")], "g",
                              [helper.make_tensor_value_info("X", TensorProto.INT64, [1, 8])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT64, [1, 8])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), str(tmp_path / "m.onnx"))
    bundle = make_bundle(conv_net(), SMALL, metadata={"reference": {"kind": "onnxruntime",
                                                                    "path": str(tmp_path / "m.onnx")}})
    (diag,) = RULES.get("runtime-session")(subject(bundle, "cpu"))
    assert (diag.code, diag.severity, diag.node) == ("EI915", "error", "n0")
    assert "Could not find an implementation for Relu(14)" in diag.message
