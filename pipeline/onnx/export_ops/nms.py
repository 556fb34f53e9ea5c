"""The NMS pieces MXNet's detection ops share, built once: which rows NMS keeps, and kept-first order.

MXNet's box_nms, MultiBoxDetection and Proposal all run greedy NMS over rows already sorted
best first and then lay the survivors out in that order. ONNX NonMaxSuppression returns the
selected (batch, class, row) triples; `keep_mask` scatters them into a (B, K) 0/1 mask, and
`kept_first` turns a mask into the permutation "kept rows in row order, then the others", the
layout every one of those ops writes.
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.export_ops.builder import Builder


def keep_mask(g: Builder, boxes: str, scores: str, max_out: str, iou: float, *, score_threshold: float | None = None,
              inclusive: bool = False, center: bool = False) -> str:
    """(B, K) float32, 1 where NonMaxSuppression keeps the row.

    boxes (B, K, 4) float32, scores (B, C, K) float32 (a row may score in several classes:
    each class is suppressed on its own), max_out a 1-element int64 (per class). ONNX
    suppresses IoU > iou; `inclusive` gives MXNet's IoU >= iou (MultiBoxDetection) by passing
    the next float32 below it.
    """
    threshold = np.nextafter(np.float32(iou), np.float32(-np.inf)) if inclusive else np.float32(iou)
    inputs = [boxes, scores, max_out, g.const([threshold], np.float32)]
    if score_threshold is not None:
        inputs.append(g.const([score_threshold], np.float32))
    selected = g.op("NonMaxSuppression", inputs, center_point_box=1 if center else 0)
    batch_row = g.op("Gather", [selected, g.const([0, 2])], axis=1)  # (M, 2)
    zeros = g.op("ConstantOfShape", [g.op("Slice", [g.op("Shape", [boxes]), g.const([0]), g.const([2])])],
                 value=_float_scalar(0.0))
    ones = g.op("Expand", [g.const([1.0], np.float32), g.dim(selected, 0)])
    return g.op("ScatterND", [zeros, batch_row, ones])


def kept_first(g: Builder, keep: str, k: str) -> tuple[str, str]:
    """(order, kept): the (B, K) int64 row permutation that puts kept rows first (each group in
    row order), and the (B, K) bool saying which positions of that order hold a kept row.

    k is K as a 1-element int64. The sort key is row + K * (not kept), sorted ascending.
    """
    kf = g.cast(k, np.float32)
    rows = g.arange(k)
    penalty = g.op("Mul", [g.op("Sub", [g.const([1.0], np.float32), keep]), kf])
    key_sorted, order = g.op("TopK", [g.op("Add", [rows, penalty]), k], outputs=2, axis=1, largest=0, sorted=1)
    return order, g.op("Less", [key_sorted, kf])


def gather_rows(g: Builder, data: str, order: str) -> str:
    """data (B, K, D) reordered along K by order (B, K') int64."""
    return g.op("GatherND", [data, g.op("Unsqueeze", [order, g.const([2])])], batch_dims=1)


def _float_scalar(value: float):
    from onnx import helper, TensorProto

    return helper.make_tensor("value", TensorProto.FLOAT, [1], [value])
