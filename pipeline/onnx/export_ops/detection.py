"""`_contrib_box_nms` (box_nms) as MXNet computes it, for every detector GluonCV builds.

mx2onnx's translation differs from MXNet in two ways that change which boxes survive: it
runs class-agnostic NMS even when `id_index` is set and `force_suppress` is off (MXNet then
suppresses only boxes of the same class), and it applies `topk` after NMS (MXNet keeps the
topk best-scoring valid boxes, then suppresses). On a calibrated SSD it kept 178 of MXNet's
200 rows. This translation:

1. valid = score > valid_thresh (and id != background_id when both are set); invalid scores
   become -inf;
2. TopK(min(topk, N)) on the scores: candidates sorted by score, best first;
3. per-class NMS as one ONNX NonMaxSuppression: each box is shifted by class_id * R, with R the
   span of all box coordinates + 1, so boxes of different classes never overlap (the
   batched-NMS offset trick; float32 rounding of the shift moves IoU by ~1e-6 at most);
   class-agnostic when force_suppress is on or id_index is -1;
4. kept rows first in score order, every other row -1, padded back to N rows: MXNet's layout.
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.export_ops.builder import Builder
from pipeline.onnx.export_ops.nms import gather_rows, keep_mask, kept_first
from pipeline.onnx.export_ops.registry import EXPORT_OPS, helpers


@EXPORT_OPS.decorator("_contrib_box_nms")
def convert_box_nms(node, **kwargs):
    from onnx.helper import make_node

    get_inputs, get_input_dtypes, _ = helpers()
    name, inputs, attrs = get_inputs(node, kwargs)
    dtype = np.dtype(get_input_dtypes(node, kwargs)[0])
    g = Builder(name, kwargs["initializer"])
    overlap = float(attrs.get("overlap_thresh", 0.5))
    valid = float(attrs.get("valid_thresh", 0))
    topk = int(attrs.get("topk", -1))
    cs, si, ii = int(attrs.get("coord_start", 2)), int(attrs.get("score_index", 1)), int(attrs.get("id_index", -1))
    force = str(attrs.get("force_suppress", "False")) in ("True", "1", "true")
    background = int(attrs.get("background_id", -1))
    in_format, out_format = attrs.get("in_format", "corner"), attrs.get("out_format", "corner")
    if in_format != out_format:
        raise NotImplementedError("box_nms with in_format != out_format")
    n, nodes = g.n, g.nodes

    def const(suffix, values, dt=np.int64):
        return g.const(values, dt, suffix)

    per_class = ii >= 0 and not force
    nodes += [
        make_node("Shape", [inputs[0]], [n("shape")]),
        make_node("Slice", [n("shape"), const("m2", [-2]), const("big", [2**62])], [n("nk")]),
        make_node("Concat", [const("m1", [-1]), n("nk")], [n("shape3")], axis=0),
        make_node("Reshape", [inputs[0], n("shape3")], [n("data")]),  # (B, N, K)
        make_node("Gather", [n("data"), const("si", [si])], [n("score3")], axis=2),
        make_node("Squeeze", [n("score3"), const("ax2", [2])], [n("score")]),  # (B, N)
        make_node("Greater", [n("score"), const("vt", [valid], dtype)], [n("valid")]),
    ]
    if background >= 0 and ii >= 0:
        nodes += [
            make_node("Gather", [n("data"), const("ii0", [ii])], [n("bid3")], axis=2),
            make_node("Squeeze", [n("bid3"), n("ax2")], [n("bid")]),
            make_node("Equal", [n("bid"), const("bg", [background], dtype)], [n("isbg")]),
            make_node("Not", [n("isbg")], [n("notbg")]),
            make_node("And", [n("valid"), n("notbg")], [n("valid_bg")]),
        ]
        valid_name = n("valid_bg")
    else:
        valid_name = n("valid")
    nodes += [
        make_node("Where", [valid_name, n("score"), const("ninf", [-np.inf], dtype)], [n("masked")]),
        make_node("Slice", [n("shape"), n("m2"), const("m1e", [-1])], [n("num")]),
        make_node("Min", [n("num"), const("topk", [topk if topk > 0 else 2**62])], [n("k")]),
        make_node("TopK", [n("masked"), n("k")], [n("top_scores"), n("top_idx")], axis=1, largest=1, sorted=1),
        make_node("Unsqueeze", [n("top_idx"), n("ax2")], [n("top_idx3")]),
        make_node("GatherND", [n("data"), n("top_idx3")], [n("cand")], batch_dims=1),  # (B, k, K)
        make_node("Slice", [n("cand"), const("cs", [cs]), const("cs4", [cs + 4]), n("ax2")], [n("boxes")]),
    ]
    boxes = n("boxes")
    if per_class:
        shift_cols = [1, 1, 1, 1] if in_format == "corner" else [1, 1, 0, 0]
        nodes += [
            make_node("ReduceMax", [n("boxes")], [n("bmax")], keepdims=0),
            make_node("ReduceMin", [n("boxes")], [n("bmin")], keepdims=0),
            make_node("Sub", [n("bmax"), n("bmin")], [n("span0")]),
            make_node("Add", [n("span0"), const("one", [1.0], dtype)], [n("span")]),
            make_node("Gather", [n("cand"), const("ii", [ii])], [n("cid")], axis=2),  # (B, k, 1)
            make_node("Mul", [n("cid"), n("span")], [n("shift1")]),
            make_node("Mul", [n("shift1"), const("cols", shift_cols, dtype)], [n("shift")]),
            make_node("Add", [n("boxes"), n("shift")], [n("boxes_pc")]),
        ]
        boxes = n("boxes_pc")
    nodes.append(make_node("Unsqueeze", [n("top_scores"), const("ax1", [1])], [n("nms_scores")]))  # (B, 1, k)
    keep = keep_mask(g, boxes, n("nms_scores"), n("k"), overlap, score_threshold=valid,
                     center=in_format != "corner")
    order, kept = kept_first(g, keep, n("k"))  # kept rows first, in score order
    rows = gather_rows(g, n("cand"), order)
    nodes += [
        make_node("Unsqueeze", [kept, n("ax2")], [n("kept3")]),
        make_node("Where", [n("kept3"), rows, const("neg1", -1.0, dtype)], [n("out_k")]),
        # pad back to N rows of -1
        make_node("Sub", [n("num"), n("k")], [n("padn")]),
        make_node("Concat", [const("p0", [0, 0, 0, 0]), n("padn"), const("p1", [0])], [n("pads")], axis=0),
        make_node("Pad", [n("out_k"), n("pads"), n("neg1")], [n("out3")], mode="constant"),
        make_node("Reshape", [n("out3"), n("shape")], [name + "0"]),
    ]
    return nodes
