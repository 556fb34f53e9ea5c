"""BilinearResize2D (pipeline/onnx/export_ops/resize.py): MXNet vs ONNX Runtime, both align_corners."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


@pytest.mark.parametrize("kwargs", [dict(height=128, width=96), dict(height=128, width=96, align_corners=False),
                                    dict(height=7, width=5, align_corners=False),
                                    dict(scale_height=2.0, scale_width=3.0, align_corners=False)])
def test_bilinear_resize_matches_mxnet(kwargs):
    import mxnet as mx
    import onnxruntime as ort

    sym = mx.sym.contrib.BilinearResize2D(mx.sym.var("data"), **kwargs)
    model = to_onnx(ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", (1, 2, 16, 12))]))
    data = np.random.default_rng(0).standard_normal((1, 2, 16, 12)).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": data})
    ref = mx.nd.contrib.BilinearResize2D(mx.nd.array(data), **kwargs).asnumpy()
    np.testing.assert_allclose(got[0], ref, atol=1e-5, rtol=1e-5)
