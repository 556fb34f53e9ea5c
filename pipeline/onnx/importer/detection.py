"""NonMaxSuppression as MXNet's box_nms, in the fixed-bound form selection.py tracks.

ONNX (and ONNX Runtime) per batch and class: the boxes whose score is > score_threshold, best
first (ties: lower box index first), greedily kept unless their IoU with a kept box is >
iou_threshold, at most max_output_boxes_per_class of them; output [num_selected, 3] triples
(batch, class, box) in batch, class, score order. MXNet's box_nms does the same greedy pass
per "batch" (stable sort by score, `score > valid_thresh`, `iou > overlap_thresh`), so each
(batch, class) becomes one box_nms batch of rows [score, 4 corners, box index]; its first
min(max_output, boxes) output rows are the class's selection. The triples are then compacted
(selected first, in ONNX's order) into the static bound M = batches * classes * that many rows;
the rest are -1. selection.py makes sure only consumers that are exact on that form read it.

Corners are normalized (min/max of each coordinate pair) as ONNX Runtime does for
center_point_box=0, and built as xc -/+ w/2 for center_point_box=1. Without a
score_threshold every box is a candidate: a score of -inf then ranks as float32's lowest
finite value (box_nms drops what is not > valid_thresh); a NaN score is never selected here
(ONNX leaves its order unspecified).
max_output_boxes_per_class, iou_threshold and score_threshold must be static.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer import selection
from pipeline.onnx.importer.context import param
from pipeline.onnx.importer.registry import converter


def _scalar(ctx, i, what, default):
    return default if not ctx.has_input(i) else ctx.require_const(i, what).reshape(-1)[0]


def _corners(ctx, boxes):
    c = [mx.sym.slice_axis(boxes, axis=2, begin=k, end=k + 1) for k in range(4)]
    if ctx.attr("center_point_box", 0):
        half = [c[2] / 2, c[3] / 2]
        return [c[0] - half[0], c[1] - half[1], c[0] + half[0], c[1] + half[1]]
    return [mx.sym.minimum(c[0], c[2]), mx.sym.minimum(c[1], c[3]),
            mx.sym.maximum(c[0], c[2]), mx.sym.maximum(c[1], c[3])]


@converter("NonMaxSuppression", since=10)  # opset 11 re-declared it unchanged
def non_max_suppression(node, ctx):
    b, n, _ = ctx.shape(0)
    _, c, _ = ctx.shape(1)
    per_class = int(_scalar(ctx, 2, "max_output_boxes_per_class", 0))
    iou = float(_scalar(ctx, 3, "iou_threshold", 0.0))
    threshold = _scalar(ctx, 4, "score_threshold", None)
    if per_class <= 0:
        raise ctx.unsupported("max_output_boxes_per_class <= 0 (an empty selection)",
                              "MXNet 1.9.1 cannot hold a zero-sized tensor")
    if not 0.0 <= iou <= 1.0:
        raise ctx.unsupported(f"iou_threshold {iou} outside [0, 1]", "ONNX Runtime refuses it too")
    k = min(per_class, n)
    bound = b * c * k
    boxes = mx.sym.concat(*_corners(ctx, ctx.input(0)), dim=2)  # (B, N, 4)
    boxes = mx.sym.broadcast_to(mx.sym.expand_dims(boxes, axis=1), shape=(b, c, n, 4))
    scores = mx.sym.expand_dims(ctx.input(1), axis=3)  # (B, C, N, 1)
    if threshold is None:
        lowest = float(np.finfo(np.float32).min)
        scores = mx.sym.where(scores == -np.inf, mx.sym.ones_like(scores) * lowest, scores)
        valid = -np.inf
    else:
        valid = float(np.float32(threshold))
    index = mx.sym.broadcast_to(param(ctx, np.arange(n, dtype=np.float32).reshape(1, 1, n, 1), "index"),
                                shape=(b, c, n, 1))
    rows = mx.sym.contrib.box_nms(mx.sym.concat(scores, boxes, index, dim=3), overlap_thresh=iou,
                                  valid_thresh=valid, topk=-1, coord_start=1, score_index=0, id_index=-1,
                                  in_format="corner", out_format="corner")
    picked = mx.sym.reshape(mx.sym.slice(rows, begin=(None, None, 0, 5), end=(None, None, k, 6)), shape=(bound,))
    grid = np.indices((b, c, k), dtype=np.float32).reshape(3, bound)
    triples = mx.sym.stack(param(ctx, grid[0], "batch"), param(ctx, grid[1], "class"), picked, axis=1)
    # compact: selected rows first, each group in its (batch, class, rank) order
    keep = picked >= 0
    position = param(ctx, np.arange(bound, dtype=np.float32), "position")
    order = mx.sym.argsort(position + (1 - keep) * bound, is_ascend=True)
    compact = mx.sym.take(triples, order, axis=0)
    count = mx.sym.sum(keep)
    filled = mx.sym.expand_dims(mx.sym.broadcast_lesser(position, count), axis=1)
    out = mx.sym.where(mx.sym.broadcast_to(filled, shape=(bound, 3)), compact, -mx.sym.ones_like(compact))
    out = mx.sym.Cast(out, dtype="int64", name=ctx.name)
    selection.record(ctx.state, node.outputs[0], selection.Selection(node.label, node.outputs[0], bound))
    return out
