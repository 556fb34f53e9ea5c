"""`pipeline convert`: zoo -> ONNX -> checkpoint -> ONNX keeps the outputs; bad input exits 2."""
from __future__ import annotations

import mxnet as mx
import numpy as np
import onnx
import onnxruntime as ort

from pipeline.cli import main


def _ort(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_round_trip_keeps_outputs(tmp_path, capsys):
    first, prefix, second = tmp_path / "m.onnx", tmp_path / "ck", tmp_path / "back.onnx"
    assert main(["convert", "mobilenet0.25", str(first), "--input", "data=1,3,64,64"]) == 0
    assert main(["convert", str(first), str(prefix)]) == 0
    assert main(["convert", str(prefix), str(second), "--input", "data=1,3,64,64"]) == 0
    model = onnx.load(str(first))
    initializers = {t.name for t in model.graph.initializer}
    assert not initializers & {i.name for i in model.graph.input}  # params stay out of the inputs
    assert model.opset_import[0].version == 13

    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype("float32")
    sym, args, aux = mx.model.load_checkpoint(str(prefix), 0)
    exe = sym.bind(mx.cpu(), {**args, "data": mx.nd.array(x)}, aux_states=aux, grad_req="null")
    from_checkpoint = exe.forward()[0].asnumpy()
    np.testing.assert_allclose(from_checkpoint, _ort(first, x), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_ort(second, x), _ort(first, x), rtol=1e-4, atol=1e-5)
    assert oct((tmp_path / "ck-symbol.json").stat().st_mode & 0o777) != "0o600"


def test_bad_source_and_destination_exit_2_with_nothing_written(tmp_path, capsys):
    assert main(["convert", "no-such-model", str(tmp_path / "x.onnx")]) == 2
    assert "CLI001" in capsys.readouterr().err
    assert main(["convert", "mobilenet0.25", str(tmp_path / "missing" / "x.onnx")]) == 2
    assert main(["convert", "mobilenet0.25", str(tmp_path / "ck"), "--opset", "13"]) == 2
    assert list(tmp_path.iterdir()) == []
