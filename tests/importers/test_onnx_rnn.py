"""LSTM, GRU and RNN against ONNX Runtime, which checks our gate re-layout (atol 1e-5)."""
import numpy as np
import pytest

from onnx_in_parity import Case, check, params, rand

T, N, I, H = 5, 2, 3, 4


def _weights(gates, dirs, seed=0):
    return {"W": rand(dirs, gates * H, I, seed=seed + 1), "R": rand(dirs, gates * H, H, seed=seed + 2),
            "B": rand(dirs, 2 * gates * H, seed=seed + 3)}


def _case(op, gates, opsets, direction="forward", name="", layout=0, **attrs):
    dirs = 2 if direction == "bidirectional" else 1
    x = rand(N, T, I) if layout else rand(T, N, I)
    h0 = rand(N, dirs, H, seed=9) if layout else rand(dirs, N, H, seed=9)
    inputs = {"x": x, "h0": h0}
    order = ["x", "W", "R", "B", "", "h0"]
    if op == "LSTM":
        inputs["c0"] = rand(*h0.shape, seed=10)
        order.append("c0")
    if layout:
        attrs["layout"] = 1
    return Case(op, opsets, inputs, _weights(gates, dirs), order=tuple(order), outputs=3 if op == "LSTM" else 2,
                attrs={"hidden_size": H, "direction": direction, **attrs}, name=name or direction)


CASES = [
    _case("LSTM", 4, (7, 14, 22)),
    _case("LSTM", 4, (14,), "bidirectional"),
    _case("LSTM", 4, (14,), "reverse"),
    _case("GRU", 3, (7, 14, 22), linear_before_reset=1, name="fused"),
    _case("GRU", 3, (14,), "bidirectional", linear_before_reset=1, name="fused_bidirectional"),
    _case("GRU", 3, (14,), name="unrolled"),
    _case("GRU", 3, (14,), "bidirectional", name="unrolled_bidirectional"),
    _case("RNN", 1, (7, 14, 22)),
    _case("RNN", 1, (14,), "bidirectional", activations=["Relu", "Relu"], name="relu_bidirectional"),
    # unrolled: what MXNet's fused op cannot express
    _case("LSTM", 4, (14,), activations=["HardSigmoid", "Tanh", "Tanh"], name="keras_hard_sigmoid"),
    _case("LSTM", 4, (14,), "bidirectional", clip=0.5, name="clip"),
    _case("GRU", 3, (14,), activations=["Sigmoid", "Relu"], linear_before_reset=1, name="relu_candidate"),
    _case("RNN", 1, (14,), activations=["Sigmoid"], name="sigmoid"),
]


def test_lstm_peepholes_match_onnxruntime(tmp_path):
    case = _case("LSTM", 4, (14,), name="peepholes")
    case.consts["P"] = rand(1, 3 * H, seed=11)
    case.order = ("x", "W", "R", "B", "", "h0", "c0", "P")
    check(case, 14, tmp_path)


@pytest.mark.parametrize("case,opset", params(CASES))
def test_rnn_matches_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)


@pytest.mark.parametrize("op,gates,extra", [("LSTM", 4, {}), ("GRU", 3, {"linear_before_reset": 1})])
def test_batch_first_layout_matches_time_major(op, gates, extra, tmp_path):
    """ONNX Runtime has no layout=1 kernel: compare with its layout=0 run on transposed data."""
    from onnx_in_parity import case_model, run_mxnet, run_ort

    import onnx

    major = _case(op, gates, (14,), **extra)
    batch = _case(op, gates, (14,), layout=1, **extra)
    batch.inputs = {k: np.ascontiguousarray(np.swapaxes(v, 0, 1)) for k, v in major.inputs.items()}
    onnx.save(case_model(major, 14), str(tmp_path / "major.onnx"))
    onnx.save(case_model(batch, 14), str(tmp_path / "batch.onnx"))
    ref = run_ort(tmp_path / "major.onnx", major.inputs)
    got = run_mxnet(tmp_path / "batch.onnx", batch.inputs)
    np.testing.assert_allclose(got[0], np.transpose(ref[0], (2, 0, 1, 3)), atol=1e-5)
    for r, g in zip(ref[1:], got[1:]):
        np.testing.assert_allclose(g, np.swapaxes(r, 0, 1), atol=1e-5)
