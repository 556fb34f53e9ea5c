"""`repeat` (pipeline/onnx/export_ops/repeat.py): MXNet vs ONNX Runtime, incl. YOLOv3's stacked pair."""

import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


def _check(sym, shape):
    import mxnet as mx
    import onnxruntime as ort

    model = to_onnx(ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", shape)]))
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": data})
    ref = sym.bind(mx.cpu(), {"data": mx.nd.array(data)}, grad_req="null").forward()[0].asnumpy()
    np.testing.assert_array_equal(got[0], ref)


@pytest.mark.parametrize("repeats,axis", [(2, 2), (3, -1), (2, 0), (2, None)])
def test_repeat_matches_mxnet(repeats, axis):
    import mxnet as mx

    kwargs = {} if axis is None else {"axis": axis}
    _check(mx.sym.repeat(mx.sym.var("data"), repeats=repeats, **kwargs), (2, 3, 4, 5))


def test_stacked_repeats_load_in_onnx_runtime_and_match():
    """YOLOv3's upsampling: mx2onnx's form crashed ORT's ConstantFolding at session creation."""
    import mxnet as mx

    x = mx.sym.var("data")
    _check(mx.sym.repeat(mx.sym.repeat(x, repeats=2, axis=2), repeats=2, axis=3), (1, 4, 5, 6))
