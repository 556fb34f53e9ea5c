"""`_contrib_Proposal` and `_contrib_MultiProposal` (Faster R-CNN's RPN) as MXNet 1.9.1's CPU kernels.

mx2onnx has no translation. Per image, MXNet:

1. enumerates anchors: ratios x scales base anchors around (stride-1)/2 (MXNet's integer
   rounding rule, computed here at export), shifted by (w, h) * feature_stride; row index
   h * W * A + w * A + a; the foreground score is channel A + a of cls_prob;
2. decodes bbox_pred (center deltas with the +1 pixel convention, or corner offsets when
   `iou_loss`), clips to [0, im_w - 1] x [0, im_h - 1] from im_info (h, w, scale);
3. scores -1 for cells past the image's real size (h >= floor(im_h / stride), likewise w) and
   for boxes narrower or shorter than rpn_min_size * scale, which are also grown by
   min_size / 2 on each side;
4. stable-sorts by score, keeps the best rpn_pre_nms_top_n, runs greedy NMS (IoU with the +1
   pixel areas > threshold suppresses) until min(post, pre) boxes are kept;
5. writes rpn_post_nms_top_n rows per image [batch, x1, y1, x2, y2] (and the score): kept
   box i, and when fewer survive, row i repeats kept box i mod kept-count. That padding is
   deterministic, so every row is compared.

The +1 convention is reproduced by giving NonMaxSuppression boxes with x2 + 1, y2 + 1; ranks
are its priorities, so ties keep MXNet's stable order. The -1 rows are sorted by a key that
keeps their row order without relying on TopK's tie rule (OpenVINO's ignores it); this assumes
cls_prob holds probabilities (no score in (-2, -1)). One limit: with rpn_min_size 0 a box
narrower than one pixel has x1 > x2, and ONNX Runtime reorders its corners where MXNet takes a
negative area (no such box passes the min-size filter otherwise).
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.export_ops.builder import Builder, flag, floats
from pipeline.onnx.export_ops.nms import gather_rows, keep_mask, kept_first
from pipeline.onnx.export_ops.registry import EXPORT_OPS, helpers


def base_anchors(stride: int, ratios, scales) -> np.ndarray:
    """(A, 4) float32 anchors at the first cell, MXNet's GenerateAnchors (ratio-major)."""
    f = np.float32
    w = h = f(stride)
    x_ctr = y_ctr = f(0.5 * (float(w) - 1.0))
    out = []
    for ratio in ratios:
        for scale in scales:
            size_ratios = np.floor(f(w * h) / f(ratio))
            new_w = f(np.floor(np.sqrt(size_ratios) + f(0.5)) * f(scale))
            new_h = f(np.floor(new_w / f(scale) * f(ratio) + f(0.5)) * f(scale))
            out.append([x_ctr - f(0.5) * (new_w - f(1)), y_ctr - f(0.5) * (new_h - f(1)),
                        x_ctr + f(0.5) * (new_w - f(1)), y_ctr + f(0.5) * (new_h - f(1))])
    return np.asarray(out, dtype=np.float32)


@EXPORT_OPS.decorator("_contrib_Proposal")
def convert_proposal(node, **kwargs):
    return _convert(node, kwargs)


@EXPORT_OPS.decorator("_contrib_MultiProposal")
def convert_multi_proposal(node, **kwargs):
    return _convert(node, kwargs)


def _convert(node, kwargs):
    get_inputs, _, _ = helpers()
    name, inputs, attrs = get_inputs(node, kwargs)
    stride = int(attrs.get("feature_stride", 16))
    anchors0 = base_anchors(stride, floats(attrs.get("ratios"), (0.5, 1, 2)),
                            floats(attrs.get("scales"), (4, 8, 16, 32)))
    pre_param = int(attrs.get("rpn_pre_nms_top_n", 6000))
    post = int(attrs.get("rpn_post_nms_top_n", 300))
    g = Builder(name, kwargs["initializer"])
    f32 = np.float32
    cls_prob, bbox_pred, im_info = inputs[:3]
    num_a = len(anchors0)

    # scores (B, K) and deltas (B, K, 4) in MXNet's row order h * W * A + w * A + a
    fg = g.op("Slice", [cls_prob, g.const([num_a]), g.const([2 * num_a]), g.const([1])])
    scores = g.op("Reshape", [g.op("Transpose", [fg], perm=[0, 2, 3, 1]), g.const([0, -1])])
    batch, height, width = g.dim(cls_prob, 0), g.dim(cls_prob, 2), g.dim(cls_prob, 3)
    split = g.op("Concat", [batch, g.const([num_a, 4]), height, width], axis=0)
    deltas = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [bbox_pred, split])], perm=[0, 3, 4, 1, 2]),
                              g.const([0, -1, 4])])  # (B, K, 4)
    ys = g.op("Mul", [g.arange(height), g.const([float(stride)], f32)])
    xs = g.op("Mul", [g.arange(width), g.const([float(stride)], f32)])
    anchors = g.op("Add", [g.op("Add", [g.const(anchors0[None, None], f32),
                                        g.op("Mul", [g.op("Reshape", [xs, g.const([1, -1, 1, 1])]),
                                                     g.const([1, 0, 1, 0], f32)])]),
                           g.op("Mul", [g.op("Reshape", [ys, g.const([-1, 1, 1, 1])]), g.const([0, 1, 0, 1], f32)])])
    anchors = g.op("Reshape", [anchors, g.const([1, -1, 4])])  # (1, K, 4)

    info = lambda i: g.op("Reshape", [g.op("Gather", [im_info, g.const(i)], axis=1), g.const([-1, 1, 1])])  # noqa: E731
    im_h, im_w, im_scale = info(0), info(1), info(2)  # (B, 1, 1)
    boxes = _decode(g, anchors, deltas, flag(attrs, "iou_loss", False))
    one = g.const([1.0], f32)
    limit = g.op("Mul", [g.op("Sub", [im_w, one]), g.const([1, 0, 1, 0], f32)])
    limit = g.op("Add", [limit, g.op("Mul", [g.op("Sub", [im_h, one]), g.const([0, 1, 0, 1], f32)])])
    boxes = g.op("Max", [g.op("Min", [boxes, limit]), g.const([0.0], f32)])  # (B, K, 4)

    # -1 for cells past the real image and for boxes under the minimum size (which also grow)
    real_h = g.op("Floor", [g.op("Div", [im_h, g.const([float(stride)], f32)])])  # (B, 1, 1)
    real_w = g.op("Floor", [g.op("Div", [im_w, g.const([float(stride)], f32)])])
    inside = g.op("And", [g.op("Less", [g.op("Reshape", [g.arange(height), g.const([1, -1, 1])]), real_h]),
                          g.op("Less", [g.op("Reshape", [g.arange(width), g.const([1, 1, -1])]), real_w])])
    inside = g.op("Expand", [g.op("Unsqueeze", [inside, g.const([3])]),
                             g.const([1, 1, 1, num_a])])  # (B, H, W, A)
    inside = g.op("Reshape", [inside, g.const([0, -1])])
    min_size = g.op("Mul", [g.const([float(attrs.get("rpn_min_size", 16))], f32), im_scale])  # (B, 1, 1)
    x1, y1, x2, y2 = (g.op("Gather", [boxes, g.const(i)], axis=2) for i in range(4))
    min_size2 = g.op("Squeeze", [min_size, g.const([2])])  # (B, 1)
    under = lambda lo, hi: g.op("Less", [g.op("Add", [g.op("Sub", [hi, lo]), one]), min_size2])  # noqa: E731
    small = g.op("Or", [under(x1, x2), under(y1, y2)])  # (B, K)
    grow = g.op("Mul", [g.op("Div", [min_size, g.const([2.0], f32)]), g.const([-1, -1, 1, 1], f32)])
    boxes = g.op("Where", [g.op("Unsqueeze", [small, g.const([2])]), g.op("Add", [boxes, grow]), boxes])
    neg1 = g.const([-1.0], f32)
    dropped = g.op("Or", [small, g.op("Not", [inside])])
    scores = g.op("Where", [dropped, neg1, scores])
    # sort key: the -1 rows tie, and OpenVINO's TopK breaks ties in no fixed order (ONNX says lower
    # index first), so they sort as -1 - (row + 1) * 2^-23, exact and below every probability
    rank_key = g.op("Sub", [neg1, g.op("Mul", [g.op("Add", [g.arange(g.dim(scores, 1)), one]),
                                               g.const([2.0 ** -23], f32)])])
    key = g.op("Where", [dropped, rank_key, scores])

    # best pre_nms by a stable sort, NMS over them, post_nms rows repeating the kept ones
    count = g.op("Mul", [g.op("Mul", [height, width]), g.const([num_a])])
    pre = g.op("Min", [count, g.const([pre_param if pre_param > 0 else 2**62])])
    post_eff = g.op("Min", [pre, g.const([post])])
    _, by_score = g.op("TopK", [key, pre], outputs=2, axis=1, largest=1, sorted=1)
    top_scores = g.op("GatherElements", [scores, by_score], axis=1)
    top_boxes = gather_rows(g, boxes, by_score)  # (B, pre, 4)
    ranks = g.arange(pre)
    priority = g.op("Unsqueeze", [g.op("Sub", [g.cast(pre, f32), ranks]), g.const([0, 1])])  # (1, 1, pre)
    priority = g.op("Expand", [priority, g.op("Concat", [batch, g.const([1]), pre], axis=0)])
    nms_boxes = g.op("Add", [top_boxes, g.const([0, 0, 1, 1], f32)])  # MXNet's +1 pixel areas
    keep = keep_mask(g, nms_boxes, priority, post_eff, float(attrs.get("threshold", 0.7)), score_threshold=0.5)
    order, _ = kept_first(g, keep, pre)
    kept_count = g.cast(g.op("ReduceSum", [keep, g.const([1])], keepdims=1), np.int64)  # (B, 1), >= 1
    slots = g.op("Range", [g.const(0), g.const(post), g.const(1)])
    picks = g.op("GatherElements", [order, g.op("Mod", [g.op("Unsqueeze", [slots, g.const([0])]), kept_count])],
                 axis=1)  # (B, post)
    rows = gather_rows(g, g.op("Concat", [top_boxes, g.op("Unsqueeze", [top_scores, g.const([2])])], axis=2), picks)
    batch_col = g.op("Expand", [g.op("Reshape", [g.arange(batch), g.const([-1, 1, 1])]),
                                g.op("Concat", [batch, g.const([post, 1])], axis=0)])
    rois = g.op("Concat", [batch_col, g.op("Slice", [rows, g.const([0]), g.const([4]), g.const([2])])], axis=2)
    g.op("Reshape", [rois, g.const([-1, 5])], name)
    if flag(attrs, "output_score", False):
        g.op("Reshape", [g.op("Slice", [rows, g.const([4]), g.const([5]), g.const([2])]), g.const([-1, 1])], name + "1")
        # the graph output MXNet names <node>_score; consumers read output 1 (<node>1)
        g.op("Identity", [name + "1"], name + "_score")
    return g.nodes


def _decode(g: Builder, anchors: str, deltas: str, iou_loss: bool) -> str:
    f32 = np.float32
    if iou_loss:
        return g.op("Add", [anchors, deltas])
    two = lambda t, lo: g.op("Slice", [t, g.const([lo]), g.const([lo + 2]), g.const([-1])])  # noqa: E731
    a_lt, a_rb, d_c, d_s = two(anchors, 0), two(anchors, 2), two(deltas, 0), two(deltas, 2)
    one, half = g.const([1.0], f32), g.const([0.5], f32)
    size = g.op("Add", [g.op("Sub", [a_rb, a_lt]), one])
    ctr = g.op("Add", [a_lt, g.op("Mul", [half, g.op("Sub", [size, one])])])
    p_ctr = g.op("Add", [g.op("Mul", [d_c, size]), ctr])
    p_half = g.op("Mul", [half, g.op("Sub", [g.op("Mul", [g.op("Exp", [d_s]), size]), one])])
    return g.op("Concat", [g.op("Sub", [p_ctr, p_half]), g.op("Add", [p_ctr, p_half])], axis=2)
