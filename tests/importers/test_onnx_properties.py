"""Property tests: Slice and Pad agree with numpy's slicing and np.pad for any bounds/modes."""
import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

from onnx_in_parity import graph_model, run_mxnet

BIG = 2 ** 62
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def slices(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    bound = st.one_of(st.integers(-7, 7), st.sampled_from([-BIG, BIG]))
    starts = [draw(bound) for _ in axes]
    ends = [draw(bound) for _ in axes]
    steps = [draw(st.sampled_from([-3, -2, -1, 1, 2, 3])) for _ in axes]
    return tuple(shape), axes, starts, ends, steps


@SETTINGS
@given(slices())
def test_slice_matches_numpy(tmp_path_factory, spec):
    shape, axes, starts, ends, steps = spec
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    index = [slice(None)] * len(shape)
    for a, s, e, st_ in zip(axes, starts, ends, steps):
        index[a] = slice(s, e, st_)
    expected = x[tuple(index)]
    if expected.size == 0:  # MXNet 1.9.1 cannot hold zero-sized results
        return
    consts = {n: np.array(v, np.int64) for n, v in (("s", starts), ("e", ends), ("a", axes), ("p", steps))}
    model = graph_model([helper.make_node("Slice", ["x", "s", "e", "a", "p"], ["y"])], {"x": x}, consts, ["y"], 13)
    path = tmp_path_factory.mktemp("slice") / "m.onnx"
    onnx.save(model, str(path))
    np.testing.assert_array_equal(run_mxnet(path, {"x": x})[0], expected)


@st.composite
def pads(draw):
    shape = draw(st.lists(st.integers(2, 4), min_size=1, max_size=3))
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "wrap"]))
    limit = (lambda d: d - 1) if mode == "reflect" else (lambda d: d) if mode == "wrap" else (lambda d: 3)
    pairs = [(draw(st.integers(0, limit(d))), draw(st.integers(0, limit(d)))) for d in shape]
    return tuple(shape), mode, pairs


@SETTINGS
@given(pads())
def test_pad_matches_numpy(tmp_path_factory, spec):
    shape, mode, pairs = spec
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1
    flat = np.array([b for b, _ in pairs] + [e for _, e in pairs], np.int64)
    model = graph_model([helper.make_node("Pad", ["x", "p", "v"], ["y"], mode=mode)], {"x": x},
                        {"p": flat, "v": np.array(-1.5, np.float32)}, ["y"], 19)
    path = tmp_path_factory.mktemp("pad") / "m.onnx"
    onnx.save(model, str(path))
    kwargs = {"constant_values": -1.5} if mode == "constant" else {}
    expected = np.pad(x, pairs, mode={"edge": "edge", "reflect": "reflect", "wrap": "wrap"}.get(mode, "constant"),
                      **kwargs)
    np.testing.assert_array_equal(run_mxnet(path, {"x": x})[0], expected)
