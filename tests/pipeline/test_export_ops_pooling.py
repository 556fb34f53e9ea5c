"""AdaptiveAvgPooling2D with any output_size (pipeline/onnx/export_ops/pooling.py): MXNet vs ONNX Runtime."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


@pytest.mark.parametrize("shape,output_size", [((1, 2, 10, 13), (3, 6)), ((2, 3, 60, 60), 6), ((1, 4, 7, 7), 2),
                                               ((1, 2, 5, 5), 1), ((1, 1, 4, 9), (4, 9))])
def test_adaptive_avg_pooling_matches_mxnet(shape, output_size):
    import mxnet as mx
    import onnxruntime as ort

    sym = mx.sym.contrib.AdaptiveAvgPooling2D(mx.sym.var("data"), output_size=output_size)
    model = to_onnx(ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", shape)]))
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": data})
    ref = mx.nd.contrib.AdaptiveAvgPooling2D(mx.nd.array(data), output_size=output_size).asnumpy()
    np.testing.assert_allclose(got[0], ref, atol=1e-5, rtol=1e-5)
