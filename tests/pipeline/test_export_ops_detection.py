"""Our box_nms translation (pipeline/onnx/export_ops/detection.py): one node, MXNet vs ONNX Runtime."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


def _boxes(batch=2, n=60, classes=3, seed=0):
    """Rows [id, score, x1, y1, x2, y2]: clustered boxes (so NMS suppresses), distinct scores."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 100, (batch, n, 2))
    centers[:, n // 2:] = centers[:, : n - n // 2] + rng.normal(0, 3, (batch, n - n // 2, 2))  # near-duplicates
    size = rng.uniform(10, 30, (batch, n, 2))
    ids = rng.integers(0, classes, (batch, n, 1)).astype(np.float64)
    scores = rng.permutation(np.linspace(0.0, 1.0, batch * n)).reshape(batch, n, 1)
    data = np.concatenate([ids, scores, centers - size / 2, centers + size / 2], axis=2)
    return data.astype(np.float32)


def _run(data, **attrs):
    import mxnet as mx
    import onnxruntime as ort

    sym = mx.sym.contrib.box_nms(mx.sym.var("data"), **attrs)
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", data.shape)])
    model = to_onnx(bundle)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": data})
    ref = mx.nd.contrib.box_nms(mx.nd.array(data), **attrs).asnumpy()
    return ref, got[0]


CASES = {
    "per-class, topk before NMS": dict(overlap_thresh=0.45, valid_thresh=0.01, topk=40, coord_start=2,
                                       score_index=1, id_index=0, force_suppress=False),
    "class-agnostic": dict(overlap_thresh=0.3, valid_thresh=0.2, topk=-1, id_index=0, force_suppress=True),
    "no ids": dict(overlap_thresh=0.5, valid_thresh=0.0, topk=25, id_index=-1),
    "background class dropped": dict(overlap_thresh=0.45, valid_thresh=0.05, topk=-1, id_index=0,
                                     background_id=1, force_suppress=False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_box_nms_matches_mxnet(case):
    ref, got = _run(_boxes(), **CASES[case])
    assert (ref[..., 1] > 0).sum() > 5  # boxes survive: the case is not vacuous
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)


def test_box_nms_per_class_keeps_what_class_agnostic_would_suppress():
    """Two overlapping boxes of different classes both survive per-class NMS (mx2onnx dropped one)."""
    data = np.array([[[0, 0.9, 0, 0, 10, 10], [1, 0.8, 1, 1, 11, 11], [0, 0.7, 1, 1, 11, 11]]], np.float32)
    ref, got = _run(data, overlap_thresh=0.5, id_index=0, force_suppress=False)
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
    assert (got[0, :, 1] > 0).sum() == 2
