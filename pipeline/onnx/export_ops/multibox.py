"""`_contrib_MultiBoxDetection` (SSD's decode + NMS), laid out exactly as MXNet 1.9.1's CPU kernel.

mx2onnx has no translation (older SSD symbol files use it). What MXNet does, per image:

1. each anchor takes the best class among 1..C-1 (class 0 is background; the first maximum
   wins; `background_id` is parsed but never read) and is dropped when its score is below
   `threshold`; boxes are decoded with `variances` (center form) and clipped to [0, 1] with `clip`;
2. the kept anchors are compacted to the front in anchor order, every other row is -1;
3. when 0 < nms_threshold <= 1: the valid rows are stably sorted by score, the best
   min(nms_topk, valid) go through greedy NMS (IoU >= nms_threshold suppresses; per class
   unless `force_suppress`), and a suppressed row keeps its score and box with id -1.
   Rows after the topk keep the compacted (unsorted) row at that position with id -1: MXNet
   only overwrites the first topk rows when it reorders.

NMS is one ONNX NonMaxSuppression over the sorted rows with priority = rank (so ties keep
MXNet's stable order), one score column per class when per-class.
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.export_ops.builder import Builder, flag, floats
from pipeline.onnx.export_ops.nms import gather_rows, keep_mask, kept_first
from pipeline.onnx.export_ops.registry import EXPORT_OPS, helpers


@EXPORT_OPS.decorator("_contrib_MultiBoxDetection")
def convert_multibox_detection(node, **kwargs):
    get_inputs, get_input_dtypes, _ = helpers()
    name, inputs, attrs = get_inputs(node, kwargs)
    dtype = np.dtype(get_input_dtypes(node, kwargs)[0])
    clip = flag(attrs, "clip", True)
    threshold = float(attrs.get("threshold", 0.01))
    nms_threshold = float(attrs.get("nms_threshold", 0.5))
    force = flag(attrs, "force_suppress", False)
    topk = int(attrs.get("nms_topk", -1))
    variances = floats(attrs.get("variances"), (0.1, 0.1, 0.2, 0.2))
    g = Builder(name, kwargs["initializer"])
    f32 = np.float32
    cls_prob, loc_pred, anchor = (x if dtype == f32 else g.cast(x, f32) for x in inputs[:3])

    fg = g.op("Slice", [cls_prob, g.const([1]), g.const([2**62]), g.const([1])])  # (B, C-1, N)
    score = g.op("ReduceMax", [fg], axes=[1], keepdims=0)  # (B, N)
    cls = g.cast(g.op("ArgMax", [fg], axis=1, keepdims=0, select_last_index=0), f32)
    valid = g.op("And", [g.op("Greater", [score, g.const([-1.0], f32)]),
                         g.op("Not", [g.op("Less", [score, g.const([threshold], f32)])])])
    num = g.dim(cls_prob, 2)
    boxes = _decode(g, loc_pred, anchor, num, variances, clip)  # (B, N, 4)
    rows = g.op("Concat", [g.op("Unsqueeze", [cls, g.const([2])]), g.op("Unsqueeze", [score, g.const([2])]), boxes],
                axis=2)  # (B, N, 6): [id, score, x1, y1, x2, y2]
    neg1 = g.const(-1.0, f32)
    order, in_valid = kept_first(g, g.cast(valid, f32), num)
    compact = gather_rows(g, rows, order)
    in_valid3 = g.op("Unsqueeze", [in_valid, g.const([2])])
    if not 0 < nms_threshold <= 1:
        out = g.op("Where", [in_valid3, compact, neg1])
    else:
        out = _sorted_nms(g, rows, score, valid, fg, compact, in_valid3, num, nms_threshold, force, topk)
    g.op("Identity", [out if dtype == f32 else g.cast(out, dtype)], name)
    return g.nodes


def _decode(g: Builder, loc_pred: str, anchor: str, num: str, variances, clip: bool) -> str:
    f32 = np.float32
    loc = g.op("Reshape", [loc_pred, g.const([0, -1, 4])])
    anchors = g.op("Slice", [g.op("Reshape", [anchor, g.const([-1, 4])]), g.const([0]), num, g.const([0])])
    two = lambda t, lo: g.op("Slice", [t, g.const([lo]), g.const([lo + 2]), g.const([-1])])  # noqa: E731
    a_lt, a_rb, p_c, p_s = two(anchors, 0), two(anchors, 2), two(loc, 0), two(loc, 2)
    a_wh = g.op("Sub", [a_rb, a_lt])
    a_c = g.op("Div", [g.op("Add", [a_lt, a_rb]), g.const([2.0], f32)])
    o_c = g.op("Add", [g.op("Mul", [g.op("Mul", [p_c, g.const(variances[:2], f32)]), a_wh]), a_c])
    o_half = g.op("Div", [g.op("Mul", [g.op("Exp", [g.op("Mul", [p_s, g.const(variances[2:], f32)])]), a_wh]),
                          g.const([2.0], f32)])
    box = g.op("Concat", [g.op("Sub", [o_c, o_half]), g.op("Add", [o_c, o_half])], axis=2)
    return g.op("Clip", [box, g.const(0.0, f32), g.const(1.0, f32)]) if clip else box


def _sorted_nms(g: Builder, rows, score, valid, fg, compact, in_valid3, num, iou, force, topk) -> str:
    f32 = np.float32
    masked = g.op("Where", [valid, score, g.const([-np.inf], f32)])
    _, by_score = g.op("TopK", [masked, num], outputs=2, axis=1, largest=1, sorted=1)  # ties: lower index first
    ranked = gather_rows(g, rows, by_score)  # (B, N, 6), valid rows first, best first
    count = g.op("ReduceSum", [g.cast(valid, f32), g.const([1])], keepdims=1)  # (B, 1)
    nkeep = count if topk <= 0 else g.op("Min", [count, g.const([topk], f32)])
    pos = g.arange(num)
    in_keep = g.op("Less", [pos, nkeep])  # (B, N)
    # NMS priority = N - rank for the first nkeep rows, 0 (below the score threshold) for the rest
    priority = g.op("Where", [in_keep, g.op("Sub", [g.cast(num, f32), pos]), g.const([0.0], f32)])
    priority = g.op("Unsqueeze", [priority, g.const([1])])  # (B, 1, N)
    if not force:  # one score column per class: NMS suppresses within a class only
        ids = g.op("Unsqueeze", [g.op("Gather", [ranked, g.const(0)], axis=2), g.const([1])])  # (B, 1, N)
        classes = g.arange(g.dim(fg, 1))
        same = g.op("Equal", [ids, g.op("Reshape", [classes, g.const([1, -1, 1])])])  # (B, C-1, N)
        priority = g.op("Where", [same, priority, g.const([0.0], f32)])
    boxes = g.op("Slice", [ranked, g.const([2]), g.const([6]), g.const([2])])
    keep = keep_mask(g, boxes, priority, num, iou, score_threshold=0.5, inclusive=True)  # (B, N)
    id_col = g.const(np.arange(6).reshape(1, 1, 6) == 0, np.bool_)
    neg1 = g.const(-1.0, f32)
    dropped = g.op("And", [id_col, g.op("Unsqueeze", [g.op("Less", [keep, g.const([0.5], f32)]), g.const([2])])])
    top = g.op("Where", [dropped, neg1, ranked])  # suppressed rows keep score and box, id -1
    tail = g.op("Where", [id_col, neg1, compact])  # past the topk: MXNet's unsorted rows, id -1
    merged = g.op("Where", [g.op("Unsqueeze", [in_keep, g.const([2])]), top, tail])
    return g.op("Where", [in_valid3, merged, neg1])
