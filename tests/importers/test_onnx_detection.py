"""NonMaxSuppression (pipeline/onnx/importer/detection.py) and the padded selection it returns
(pipeline/onnx/importer/selection.py), against ONNX Runtime.

A selection has a data-dependent length, so each model ends in a fixed-size result the way our
box_nms export does: Shape -> Slice -> Expand gives one update per selected row, ScatterND
writes them into a mask. Outputs are exact (0/1 masks); the selected triples themselves are
read from the imported graph and must equal ONNX Runtime's, followed by -1 padding rows.
"""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from onnx_in_parity import compare, graph_model, run_ort
from pipeline.onnx.importer import errors
from pipeline.onnx.load import load_onnx

I64 = np.int64
COVERED = [("NonMaxSuppression", 11), ("NonMaxSuppression", 13)]


def _scene(batch=2, classes=3, n=40, seed=0, center=False, ties=False):
    """Clustered boxes (so NMS suppresses) in [y1, x1, y2, x2] with half of them given corner
    pairs in the other diagonal order; scores spread over [0, 1)."""
    rng = np.random.default_rng(seed)
    mid = rng.uniform(0, 25, (batch, n, 2))
    mid[:, n // 2:] = mid[:, : n - n // 2] + rng.normal(0, 2, (batch, n - n // 2, 2))
    size = rng.uniform(8, 20, (batch, n, 2))
    if center:
        boxes = np.concatenate([mid, size], axis=2)
    else:
        lo, hi = mid - size / 2, mid + size / 2
        boxes = np.concatenate([lo, hi], axis=2)
        flip = rng.random((batch, n)) < 0.5
        boxes[flip] = np.concatenate([hi, lo], axis=2)[flip]
    scores = rng.random((batch, classes, n))
    if ties:
        scores = np.round(scores * 4) / 4  # five distinct values: ties decided by box index
    return boxes.astype(np.float32), scores.astype(np.float32)


def _model(boxes, scores, opset, *, max_out=20, iou=0.4, threshold=0.2, center=0, extra=(), extra_consts=None):
    """NMS -> (ScatterND into a (B, C, N) mask, ScatterND of the (batch, box) columns into (B, N)),
    plus `extra` nodes (their last output is a third graph output)."""
    b, c, n = scores.shape
    rng = np.random.default_rng(1)  # base values no update writes: a stray write of a padding row shows
    consts = {"base3": rng.uniform(2, 3, (b, c, n)).astype(np.float32),
              "base2": rng.uniform(2, 3, (b, n)).astype(np.float32),
              "one": np.ones(1, np.float32), "z": np.array([0], I64), "o": np.array([1], I64),
              "cols": np.array([0, 2], I64), **(extra_consts or {})}
    names = ["boxes", "scores"]
    for key, value in (("max_out", None if max_out is None else np.array([max_out], I64)),
                       ("iou", None if iou is None else np.array([iou], np.float32)),
                       ("thr", None if threshold is None else np.array([threshold], np.float32))):
        names.append("" if value is None else key)
        if value is not None:
            consts[key] = value
    while names[-1] == "":
        names.pop()
    nodes = [helper.make_node("NonMaxSuppression", names, ["sel"], name="nms", center_point_box=center),
             helper.make_node("Shape", ["sel"], ["shape"]),
             helper.make_node("Slice", ["shape", "z", "o"], ["count"]),
             helper.make_node("Expand", ["one", "count"], ["ones"]),
             helper.make_node("ScatterND", ["base3", "sel", "ones"], ["mask"]),
             helper.make_node("Gather", ["sel", "cols"], ["bi"], axis=1),
             helper.make_node("ScatterND", ["base2", "bi", "ones"], ["mask_any"]), *extra]
    outputs = ["mask", "mask_any"] + ([extra[-1].output[0]] if extra else [])
    return graph_model(nodes, {"boxes": boxes, "scores": scores}, consts, outputs, opset)


def _selected(path: Path, feed: dict) -> np.ndarray:
    """The importer's [bound, 3] selection, read from the converted graph by its node map."""
    import mxnet as mx

    bundle = load_onnx(path, {k: v.shape for k, v in feed.items()})
    out = dict(bundle.metadata["onnx"]["node_map"])["sel"]
    sym = bundle.symbol().get_internals()[out]
    params = {k: mx.nd.array(v, dtype=v.dtype) for k, v in bundle.arg_params.items() if k in sym.list_arguments()}
    args = {**params, **{k: mx.nd.array(v) for k, v in feed.items()}}
    return sym.eval(ctx=mx.cpu(), **args)[0].asnumpy()


SCENES = {
    "corners, any diagonal order": dict(),
    "center boxes": dict(center=1, iou=0.3),
    "no score threshold": dict(threshold=None, max_out=30),
    "max_output above the box count": dict(max_out=100, iou=0.5, threshold=0.5),
    "tied scores": dict(iou=0.3, ties=True),
    "iou 0: any overlap suppresses": dict(iou=0.0, max_out=8),
    # Slice of the (class, box) columns and a Cast keep the padded rows: a third mask over (C, N)
    "columns sliced and cast": dict(extra=(helper.make_node("Slice", ["sel", "s1", "e3", "ax1"], ["cb"]),
                                           helper.make_node("Cast", ["cb"], ["cb64"], to=onnx.TensorProto.INT64),
                                           helper.make_node("ScatterND", ["base_cn", "cb64", "ones"], ["mask_cls"])),
                                    extra_consts={"s1": np.array([1], I64), "e3": np.array([3], I64),
                                                  "ax1": np.array([1], I64),
                                                  "base_cn": np.full((3, 40), 2.5, np.float32)}),
}


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("case", list(SCENES))
def test_nms_selection_matches_onnxruntime(case, opset, tmp_path):
    attrs = dict(SCENES[case])
    boxes, scores = _scene(center=bool(attrs.get("center")), ties=attrs.pop("ties", False))
    path = tmp_path / "nms.onnx"
    onnx.save(_model(boxes, scores, opset, **attrs), str(path))
    feed = {"boxes": boxes, "scores": scores}
    ref = run_ort(path, feed)
    from onnx_in_parity import run_mxnet

    compare(ref, run_mxnet(path, feed), atol=0)
    kept = ref[0] == 1
    assert 0 < kept.sum() < scores.size and (kept.sum(axis=2) > 1).any()  # NMS chose, per class
    model = onnx.load(str(path))
    model.graph.output.append(helper.make_tensor_value_info("sel", onnx.TensorProto.INT64, None))
    onnx.save(model, str(tmp_path / "with_sel.onnx"))
    want = run_ort(tmp_path / "with_sel.onnx", feed)[-1]
    got = _selected(path, feed)
    np.testing.assert_array_equal(got[:len(want)], want)  # ONNX Runtime's triples, in its order
    assert len(got) == 2 * 3 * min(attrs.get("max_out", 20), 40) > len(want)  # padding rows exist, and are -1
    assert (got[len(want):] == -1).all()


def _refused(model, tmp_path, feed_shapes=None) -> errors.OnnxImportError:
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(errors.OnnxImportError) as info:
        load_onnx(path, feed_shapes)
    return info.value


def _nms_then(nodes, outputs, opset=11, consts=None):
    boxes, scores = _scene()
    base = {"max_out": np.array([5], I64), "iou": np.array([0.4], np.float32), **(consts or {})}
    head = helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou"], ["sel"], name="nms")
    return graph_model([head, *nodes], {"boxes": boxes, "scores": scores}, base, outputs, opset)


REFUSED = {
    "as a graph output": ([], ["sel"], "graph output 'sel'"),
    "gathered along the rows": ([helper.make_node("Gather", ["sel", "i0"], ["g"], name="g", axis=0)], ["g"],
                                "Gather node 'g'"),
    "reduced over the rows": ([helper.make_node("ReduceMax", ["sel"], ["r"], name="r", keepdims=0)], ["r"],
                              "ReduceMax node 'r'"),
    "its count in arithmetic": ([helper.make_node("Shape", ["sel"], ["s"]),
                                 helper.make_node("Add", ["s", "s"], ["a"], name="a")], ["a"], "Add node 'a'"),
    "a column as the graph output": ([helper.make_node("Gather", ["sel", "i2"], ["col"], axis=1)], ["col"],
                                     "graph output 'col'"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_inexact_consumers_of_a_selection_are_refused_with_onnx115(case, tmp_path):
    nodes, outputs, where = REFUSED[case]
    model = _nms_then(nodes, outputs, consts={"i0": np.array([0], I64), "i2": np.array([2], I64)})
    exc = _refused(model, tmp_path)
    assert exc.code == "ONNX115" and where in exc.message and "nms" in exc.message, exc.message


def test_scatter_of_updates_not_from_the_selection_is_refused(tmp_path):
    """Updates with a static row count cannot line up with a data-dependent selection."""
    zeros = np.zeros((2, 3, 40), np.float32)
    nodes = [helper.make_node("ScatterND", ["zeros", "sel", "u"], ["y"], name="scatter")]
    model = _nms_then(nodes, ["y"], consts={"zeros": zeros, "u": np.ones(30, np.float32)})
    exc = _refused(model, tmp_path)
    assert exc.code == "ONNX115" and "ScatterND node 'scatter'" in exc.message


def test_opset_10_converts_and_refuses_the_raw_selection_too(tmp_path):
    exc = _refused(_nms_then([], ["sel"], opset=10), tmp_path)
    assert exc.code == "ONNX115"


def test_max_output_of_zero_and_a_computed_threshold_are_coded_errors(tmp_path):
    boxes, scores = _scene()
    zero = _model(boxes, scores, 11, max_out=0)
    assert _refused(zero, tmp_path).code == "ONNX106"
    absent = _model(boxes, scores, 11, max_out=None, iou=None, threshold=None)
    assert _refused(absent, tmp_path).code == "ONNX106"  # ONNX's default 0: nothing selected
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou_in"], ["sel"], name="nms")]
    dynamic = graph_model(nodes, {"boxes": boxes, "scores": scores, "iou_in": np.array([0.5], np.float32)},
                          {"max_out": np.array([5], I64)}, ["sel"], 11)
    exc = _refused(dynamic, tmp_path)
    assert exc.code == "ONNX105" and exc.tensor == "iou_in"
