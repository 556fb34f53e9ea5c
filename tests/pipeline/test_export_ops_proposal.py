"""Our Proposal / MultiProposal translation (pipeline/onnx/export_ops/proposal.py): one node, MXNet vs ONNX Runtime."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx
from pipeline.onnx.export_ops.proposal import base_anchors

RATIOS, SCALES = (0.5, 1, 2), (2, 4)


def _inputs(batch=1, h=8, w=8, im_info=((100, 120, 1.0),), seed=0):
    """Distinct random fg scores, moderate deltas (boxes overlap, a few fall under rpn_min_size)."""
    rng = np.random.default_rng(seed)
    a = len(RATIOS) * len(SCALES)
    cls = rng.uniform(0, 1, (batch, 2 * a, h, w))
    bbox = rng.normal(0, 0.3, (batch, 4 * a, h, w))
    return {"cls_prob": cls.astype(np.float32), "bbox_pred": bbox.astype(np.float32),
            "im_info": np.asarray(im_info, np.float32)}


def _run(op, feeds, runtime="onnxruntime", **attrs):
    import mxnet as mx

    ops = {"Proposal": (mx.sym.contrib.Proposal, mx.nd.contrib.Proposal),
           "MultiProposal": (mx.sym.contrib.MultiProposal, mx.nd.contrib.MultiProposal)}
    attrs = dict(dict(ratios=RATIOS, scales=SCALES, feature_stride=16, rpn_min_size=16), **attrs)
    sym = ops[op][0](*(mx.sym.var(k) for k in feeds), **attrs)
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec(k, v.shape) for k, v in feeds.items()])
    got = RUNTIMES[runtime](to_onnx(bundle).SerializeToString(), feeds)
    ref = ops[op][1](*(mx.nd.array(v) for v in feeds.values()), **attrs)
    ref = [r.asnumpy() for r in ref] if isinstance(ref, list) else [ref.asnumpy()]
    return ref, got


def _onnxruntime(model: bytes, feeds):
    import onnxruntime as ort

    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)


def _openvino(model: bytes, feeds):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(model=model), "CPU")
    result = compiled(feeds)
    return [result[out] for out in compiled.outputs]


RUNTIMES = {"onnxruntime": _onnxruntime, "openvino": _openvino}

CASES = {
    "Proposal, scores, padded cells": ("Proposal", dict(rpn_pre_nms_top_n=200, rpn_post_nms_top_n=40,
                                                        threshold=0.7, output_score=True), {}),
    "Proposal, fewer survivors than post_nms: rows repeat": ("Proposal", dict(rpn_pre_nms_top_n=60,
                                                                               rpn_post_nms_top_n=80,
                                                                               threshold=0.3), {}),
    "Proposal, iou_loss, all anchors, image scale": ("Proposal", dict(rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=50,
                                                                      iou_loss=True, output_score=True),
                                                     dict(im_info=((128, 90, 1.6),))),
    "Proposal, small image: -1 scored (padded, too small) boxes reach the output":
        ("Proposal", dict(rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=120, threshold=0.95, output_score=True),
         dict(im_info=((50, 60, 1.2),))),
    "MultiProposal, two images": ("MultiProposal", dict(rpn_pre_nms_top_n=150, rpn_post_nms_top_n=30,
                                                        threshold=0.6, output_score=True),
                                  dict(batch=2, im_info=((128, 128, 1.0), (80, 100, 0.8)))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_proposal_matches_mxnet(case):
    op, attrs, shape = CASES[case]
    ref, got = _run(op, _inputs(**shape), **attrs)
    _check(case, ref, got)


def test_proposal_on_openvino_keeps_the_order_of_tied_rows():
    """OpenVINO's TopK breaks ties in no fixed order; the -1 rows must still come out in MXNet's."""
    pytest.importorskip("openvino")
    case = "Proposal, small image: -1 scored (padded, too small) boxes reach the output"
    op, attrs, shape = CASES[case]
    ref, got = _run(op, _inputs(**shape), runtime="openvino", **attrs)
    _check(case, ref, got)


def _check(case, ref, got):
    assert len(got) == len(ref)
    rois = ref[0]
    assert len(np.unique(rois[:, 1:], axis=0)) > 10  # many distinct boxes: not vacuous
    if "-1 scored" in case:
        assert (ref[1] == -1).sum() > 20
    for r, o in zip(ref, got):
        assert o.shape == r.shape
        np.testing.assert_allclose(o, r, atol=1e-4, rtol=1e-5)


def test_proposal_pads_by_repeating_kept_boxes():
    """With a low NMS threshold few boxes survive; MXNet (and we) cycle through them."""
    ref, got = _run("Proposal", _inputs(), rpn_pre_nms_top_n=60, rpn_post_nms_top_n=80, threshold=0.05)
    kept = len(np.unique(ref[0], axis=0))
    assert kept < 80
    np.testing.assert_allclose(ref[0][kept:2 * kept], ref[0][:kept])
    np.testing.assert_allclose(got[0], ref[0], atol=1e-4, rtol=1e-5)


def test_base_anchors_follow_mxnet_rounding():
    """stride 16, ratio 0.5, scale 8 is the classic [-84, -40, 99, 55] anchor."""
    np.testing.assert_array_equal(base_anchors(16, [0.5], [8]), [[-84, -40, 99, 55]])


def test_multi_proposal_with_a_dynamic_batch():
    """Anchors and shapes are built in the graph, so a batch exported symbolic runs at batch 3."""
    import mxnet as mx
    import onnxruntime as ort

    attrs = dict(ratios=RATIOS, scales=SCALES, rpn_pre_nms_top_n=100, rpn_post_nms_top_n=20, output_score=True)
    feeds = _inputs(batch=3, im_info=((128, 128, 1.0), (80, 90, 1.0), (60, 128, 1.5)))
    sym = mx.sym.contrib.MultiProposal(*(mx.sym.var(k) for k in feeds), **attrs)
    specs = [TensorSpec(k, (1,) + v.shape[1:], dynamic=(0,)) for k, v in feeds.items()]
    model = to_onnx(ModelBundle.from_symbol(sym, {}, {}, specs))
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    ref = mx.nd.contrib.MultiProposal(*(mx.nd.array(v) for v in feeds.values()), **attrs)
    assert got[0].shape == (60, 5)
    for r, o in zip(ref, got):
        np.testing.assert_allclose(o, r.asnumpy(), atol=1e-4, rtol=1e-5)
