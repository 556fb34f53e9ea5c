"""Our ROIAlign translation (pipeline/onnx/export_ops/roi_align.py): one node, MXNet vs ONNX Runtime."""

import numpy as np
import pytest

from pipeline.core.errors import ExportError
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


def _inputs(channels=4, seed=0):
    """A 2-image 16x16 feature map (image 32x32 at spatial_scale 0.5) and ROIs: large, sub-pixel
    (the 1x1 clamp of the unaligned mode), crossing the border, and one with batch index -1."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, (2, channels, 16, 16))
    x1y1 = rng.uniform(-4, 28, (12, 2))
    wh = np.concatenate([rng.uniform(4, 20, (9, 2)), rng.uniform(0.2, 1.5, (3, 2))])
    batch = rng.integers(0, 2, (12, 1)).astype(np.float64)
    batch[5] = -1
    rois = np.concatenate([batch, x1y1, x1y1 + wh], axis=1)
    return {"data": data.astype(np.float32), "rois": rois.astype(np.float32)}


def _run(feeds, opset=13, **attrs):
    import mxnet as mx
    import onnxruntime as ort

    sym = mx.sym.contrib.ROIAlign(mx.sym.var("data"), mx.sym.var("rois"), **attrs)
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec(k, v.shape) for k, v in feeds.items()])
    model = to_onnx(bundle, opset=opset)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    ref = mx.nd.contrib.ROIAlign(mx.nd.array(feeds["data"]), mx.nd.array(feeds["rois"]), **attrs).asnumpy()
    return ref, got[0]


CASES = {
    "plain, adaptive samples": (13, dict(pooled_size=(3, 3), spatial_scale=0.5), {}),
    "plain at opset 16 (mx2onnx's node turned half-pixel there)": (16, dict(pooled_size=(3, 3), spatial_scale=0.5), {}),
    "plain, sample_ratio 2": (13, dict(pooled_size=(2, 4), spatial_scale=0.5, sample_ratio=2), {}),
    "aligned": (16, dict(pooled_size=(3, 2), spatial_scale=0.5, aligned=True), {}),
    "position-sensitive": (13, dict(pooled_size=(3, 2), spatial_scale=0.5, position_sensitive=True),
                           dict(channels=2 * 6)),
    "position-sensitive, aligned, sample_ratio 1": (17, dict(pooled_size=(2, 2), spatial_scale=0.5, aligned=True,
                                                             position_sensitive=True, sample_ratio=1),
                                                    dict(channels=3 * 4)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_roi_align_matches_mxnet(case):
    opset, attrs, shape = CASES[case]
    feeds = _inputs(**shape)
    ref, got = _run(feeds, opset, **attrs)
    assert got.shape == ref.shape
    defined = feeds["rois"][:, 0] >= 0
    assert np.abs(ref[defined]).mean() > 0.1  # the rois read real values: not vacuous
    np.testing.assert_allclose(got[defined], ref[defined], atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(got[~defined], 0)  # MXNet leaves these unset; GluonCV reads them as zeros


def test_negative_batch_index_zeroes_mxnet_stray_element():
    """MXNet writes the 0 for ROI 5 (batch -1) at flat element 5, inside ROI 0's output."""
    feeds = _inputs()
    ref, got = _run(feeds, 13, pooled_size=(3, 3), spatial_scale=0.5)
    assert ref[0].reshape(-1)[5] == 0 and got[0].reshape(-1)[5] == 0
    assert np.count_nonzero(ref[0]) == ref[0].size - 1


def test_aligned_differs_from_plain():
    """The modes differ on this data, so the aligned case above does test the mode."""
    feeds = _inputs()
    plain, _ = _run(feeds, 16, pooled_size=(3, 2), spatial_scale=0.5)
    aligned, _ = _run(feeds, 16, pooled_size=(3, 2), spatial_scale=0.5, aligned=True)
    assert np.abs(plain - aligned)[feeds["rois"][:, 0] >= 0].max() > 0.1


def test_aligned_below_opset_16_is_refused():
    with pytest.raises(ExportError) as err:
        _run(_inputs(), 13, pooled_size=(3, 3), spatial_scale=0.5, aligned=True)
    assert err.value.code == "EXP110" and "opset 16" in err.value.hint
