"""Our MultiBoxDetection translation (pipeline/onnx/export_ops/multibox.py): one node, MXNet vs ONNX Runtime."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


def _inputs(batch=2, classes=4, n=80, seed=0):
    """Softmax class scores, small offsets, anchors in clusters (so NMS has overlaps to suppress)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (batch, classes, n))
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    loc = rng.normal(0, 0.5, (batch, n * 4))
    centers = rng.uniform(0.1, 0.9, (n // 4, 2)).repeat(4, axis=0) + rng.normal(0, 0.02, (n, 2))
    size = rng.uniform(0.1, 0.3, (n, 2))
    anchor = np.concatenate([centers - size / 2, centers + size / 2], axis=1)[None]
    return {"cls_prob": prob.astype(np.float32), "loc_pred": loc.astype(np.float32),
            "anchor": anchor.astype(np.float32)}


def _run(feeds, **attrs):
    import mxnet as mx
    import onnxruntime as ort

    sym = mx.sym.contrib.MultiBoxDetection(*(mx.sym.var(k) for k in feeds), **attrs)
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec(k, v.shape) for k, v in feeds.items()])
    model = to_onnx(bundle)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    ref = mx.nd.contrib.MultiBoxDetection(*(mx.nd.array(v) for v in feeds.values()), **attrs).asnumpy()
    return ref, got[0]


CASES = {
    "defaults (per-class NMS, clip)": dict(),
    "threshold drops anchors, nms_topk": dict(threshold=0.4, nms_topk=12, nms_threshold=0.3),
    "force_suppress, no clip, variances": dict(force_suppress=True, clip=False, variances=(0.2, 0.2, 0.3, 0.3),
                                               nms_threshold=0.45),
    "background_id is ignored (as in MXNet)": dict(background_id=2, threshold=0.2),
    "nms off (nms_threshold 0): compacted anchor order": dict(nms_threshold=0.0, threshold=0.3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_multibox_detection_matches_mxnet(case):
    ref, got = _run(_inputs(), **CASES[case])
    ids = ref[..., 0]
    assert (ids >= 0).sum() > 5 and (ids == -1).sum() > 5  # rows kept and rows dropped: not vacuous
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got[..., 0], ref[..., 0])
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=1e-6)


def test_multibox_detection_topk_tail_keeps_mxnet_unsorted_rows():
    """Past nms_topk MXNet leaves the compacted (anchor-order) rows with id -1, not -1 rows."""
    ref, got = _run(_inputs(batch=1), nms_topk=5, threshold=0.2)
    assert (ref[0, 5:, 1] > 0).sum() > 5
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=1e-6)


def test_older_ssd_head_exports_end_to_end():
    """MultiBoxPrior anchors (folded to a constant at export) feeding MultiBoxDetection, as older
    SSD symbol files are built; random conv weights, batch 2."""
    import mxnet as mx
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    feat = mx.sym.Convolution(mx.sym.var("data"), num_filter=8, kernel=(3, 3), pad=(1, 1), name="c0")
    anchors = mx.sym.contrib.MultiBoxPrior(feat, sizes=(0.3, 0.5), ratios=(1, 2), name="prior")  # 3 per cell
    cls = mx.sym.Convolution(feat, num_filter=3 * 3, kernel=(3, 3), pad=(1, 1), name="cls")
    cls = mx.sym.softmax(mx.sym.reshape(mx.sym.transpose(cls, (0, 2, 3, 1)), (0, -1, 3)), axis=-1)
    loc = mx.sym.Convolution(feat, num_filter=3 * 4, kernel=(3, 3), pad=(1, 1), name="loc")
    det = mx.sym.contrib.MultiBoxDetection(mx.sym.transpose(cls, (0, 2, 1)),
                                           mx.sym.flatten(mx.sym.transpose(loc, (0, 2, 3, 1))), anchors,
                                           nms_threshold=0.45, nms_topk=50, name="det")
    x = rng.normal(0, 1, (2, 3, 8, 8)).astype(np.float32)
    shapes, _, _ = det.infer_shape(data=x.shape)
    params = {n: mx.nd.array(rng.normal(0, 0.3, s)) for n, s in zip(det.list_arguments(), shapes) if n != "data"}
    ref = det.bind(mx.cpu(), {"data": mx.nd.array(x), **params}).forward()[0].asnumpy()
    model = to_onnx(ModelBundle.from_symbol(det, params, {}, [TensorSpec("data", x.shape)]))
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": x})[0]
    assert (ref[..., 0] >= 0).sum() > 10
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)
