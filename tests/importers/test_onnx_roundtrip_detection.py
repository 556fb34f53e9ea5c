"""GluonCV detectors MXNet -> our ONNX export -> our ONNX import -> MXNet, against the original.

Random calibrated weights (pipeline/model/calibrated_init.py), small inputs. The exported
box_nms (TopK, per-class NonMaxSuppression, ScatterND of the kept rows) comes back through the
importer's padded selection (pipeline/onnx/importer/selection.py), so the detections must be
MXNet's own: matched as sets (pipeline/measure/detection.py), and row for row the same class
ids, with scores and boxes within float32 accumulation noise (the imported graph sums in a
different order only where the export rewrote an op, e.g. L2Normalization -> LpNormalization).
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.measure.detection import detection_outputs, match_detections
from pipeline.model.bundle import TensorSpec

FAST = {"ssd_512_mobilenet1.0_voc": 128, "yolo3_mobilenet1.0_voc": 128, "center_net_resnet18_v1b_voc": 128}
# the issue's other detectors (SSD-300 VGG needs >= 300 px, Mask R-CNN's RPN more than 128)
SLOW = {"ssd_300_vgg16_atrous_voc": 300, "ssd_512_resnet50_v1_voc": 128, "yolo3_darknet53_voc": 128,
        "faster_rcnn_resnet50_v1b_voc": 128, "faster_rcnn_fpn_resnet50_v1b_coco": 128,
        "mask_rcnn_resnet18_v1b_coco": 320}
# Known limit, not of the importer's NMS: with random weights these two score many candidates
# alike (FPN: every class 1/81) or within 1e-6, so float32 summation-order noise between the
# original graph and the imported one (LpNorm/Resize/RoiAlign paths) flips which of the tied
# boxes survive; ids and most rows match, a few dozen boxes do not. MXNet against ONNX
# Runtime on the same export disagrees on these models too.
TIED = {"faster_rcnn_fpn_resnet50_v1b_coco", "mask_rcnn_resnet18_v1b_coco"}


def _forward(bundle, x):
    from pipeline.targets.cpu import CpuTarget

    with CpuTarget(api="symbol") as target:
        target.deploy(bundle)
        return target.infer({"data": x})


def _round_trip(name: str, side: int, tmp_path):
    from pipeline.model.resolve import load_model
    from pipeline.onnx.export import export_bundle
    from pipeline.onnx.load import load_onnx

    shape = (1, 3, side, side)
    bundle = load_model(name, [TensorSpec("data", shape)])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    path = export_bundle(bundle, tmp_path / "model.onnx")
    return _forward(bundle, x), _forward(load_onnx(path, {"data": shape}), x)


def _check(name, side, tmp_path):
    ref, got = _round_trip(name, side, tmp_path)
    assert [r.shape for r in ref] == [g.shape for g in got]
    ids, scores, boxes = detection_outputs(ref)
    assert (ref[scores] > 0.01).sum() > 20  # detections to compare: not vacuous
    np.testing.assert_array_equal(got[ids], ref[ids])  # the same rows survive NMS, in the same order
    np.testing.assert_allclose(got[scores], ref[scores], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[boxes], ref[boxes], rtol=1e-5, atol=1e-3)
    for k in range(len(ref)):
        if k not in (ids, scores, boxes):  # Mask R-CNN's masks
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-5)
    if ref[ids].size <= 2000:  # the set match is quadratic in rows; row for row already implies it
        match = match_detections([ref[ids], ref[scores], ref[boxes]], [got[ids], got[scores], got[boxes]])
        assert match.passed and match.worst_iou > 0.999, match


@pytest.mark.parametrize("name", list(FAST))
def test_detector_survives_export_and_import(name, tmp_path):
    _check(name, FAST[name], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    strict=True, reason="near-tied scores (see TIED)")) if n in TIED else n for n in SLOW])
def test_every_issue_detector_survives_export_and_import(name, tmp_path):
    _check(name, SLOW[name], tmp_path)
