"""box_decode through mx2onnx's own translation (not ours: it was checked and is right), MXNet vs ONNX Runtime."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


def _inputs(fmt, batch=2, n=50, seed=0):
    """Offsets large enough that clip (on the scaled log-size deltas) bites."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1.5, (batch, n, 4))
    xy, wh = rng.uniform(0, 100, (1, n, 2)), rng.uniform(5, 40, (1, n, 2))
    anchors = np.concatenate([xy, xy + wh] if fmt == "corner" else [xy, wh], axis=2)
    return {"data": data.astype(np.float32), "anchors": anchors.astype(np.float32)}


CASES = {
    "center, unit stds": dict(format="center"),
    "corner, stds": dict(format="corner", std0=0.1, std1=0.1, std2=0.2, std3=0.2),
    "corner, stds, clip": dict(format="corner", std0=0.2, std1=0.3, std2=1.5, std3=2.0, clip=1.0),
    "center, clip": dict(format="center", std2=2.0, std3=1.0, clip=0.5),
}


@pytest.mark.parametrize("case", list(CASES))
def test_box_decode_matches_mxnet(case):
    import mxnet as mx
    import onnxruntime as ort

    attrs = CASES[case]
    feeds = _inputs(attrs["format"])
    sym = mx.sym.contrib.box_decode(mx.sym.var("data"), mx.sym.var("anchors"), **attrs)
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec(k, v.shape) for k, v in feeds.items()])
    got = ort.InferenceSession(to_onnx(bundle).SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    ref = mx.nd.contrib.box_decode(mx.nd.array(feeds["data"]), mx.nd.array(feeds["anchors"]), **attrs).asnumpy()
    if "clip" in attrs:  # the clip changes boxes here, so the case tests it
        unclipped = dict(attrs, clip=-1.0)
        free = mx.nd.contrib.box_decode(mx.nd.array(feeds["data"]), mx.nd.array(feeds["anchors"]), **unclipped)
        assert np.abs(free.asnumpy() - ref).max() > 1
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-5)
