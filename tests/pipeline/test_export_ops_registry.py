"""Every converter in pipeline/onnx/export_ops has a one-node test against MXNet and ONNX Runtime."""

from pathlib import Path

from pipeline.onnx.export_ops import EXPORT_OPS

TESTS = Path(__file__).parent
MXNET_CALL = {"_contrib_box_nms": "contrib.box_nms", "_contrib_AdaptiveAvgPooling2D": "contrib.AdaptiveAvgPooling2D",
              "repeat": "sym.repeat", "_contrib_BilinearResize2D": "contrib.BilinearResize2D",
              "_contrib_MultiBoxDetection": "contrib.MultiBoxDetection", "_contrib_Proposal": "contrib.Proposal",
              "_contrib_MultiProposal": "contrib.MultiProposal", "_contrib_ROIAlign": "contrib.ROIAlign"}


def test_every_export_converter_has_a_one_node_test():
    texts = "\n".join(p.read_text() for p in TESTS.glob("test_export_ops_*.py"))
    assert set(EXPORT_OPS.names()) == set(MXNET_CALL), "add the new converter here and write its test"
    missing = [op for op, call in MXNET_CALL.items() if call not in texts]
    assert not missing


def test_converters_are_installed_only_during_an_export():
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    from pipeline.onnx import export_ops

    before = dict(MXNetGraph.registry_.get(13, {}))
    with export_ops.installed(13):
        assert MXNetGraph.registry_[13]["_contrib_box_nms"] is EXPORT_OPS.get("_contrib_box_nms")
    assert MXNetGraph.registry_.get(13, {}) == before
