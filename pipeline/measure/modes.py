"""Verify's comparison modes, by name: elementwise | detection | segmentation.

Each mode is a pure function `(ref, got, *, atol, rtol, top_k, options) -> CompareResult`; the
default comes from the model's family (`metadata.source.family`, set by the zoo). Also here:
the two warnings every mode shares, a vacuous pass and tied scores, as pure checks.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.core.registry import Registry
from pipeline.measure import detection, segmentation
from pipeline.measure.compare import CompareResult, compare

MODES: Registry = Registry("compare mode")
FAMILY_MODES = {"detection": "detection", "segmentation": "segmentation"}  # every other family: elementwise
OPTION_DEFAULTS = {"score_tol": detection.SCORE_TOL, "iou_min": detection.IOU_MIN,
                   "score_threshold": detection.SCORE_THRESHOLD,
                   "min_pixel_agreement": segmentation.MIN_PIXEL_AGREEMENT}


def default_mode(family: str | None) -> str:
    return FAMILY_MODES.get(family or "", "elementwise")


@MODES.decorator("elementwise")
def elementwise(ref, got, *, atol, rtol, top_k, options) -> CompareResult:
    return compare(ref, got, atol=atol, rtol=rtol, top_k=top_k)


@MODES.decorator("detection")
def detections(ref, got, *, atol, rtol, top_k, options) -> CompareResult:
    """(class, score, box) sets matched (pipeline/measure/detection.py); the elementwise numbers
    are reported beside it, they do not decide (NMS reorders rows). `options["nms_candidates"]`,
    when verify tapped them, are the rows the final NMS read on each side (tied NMS choices)."""
    base = compare(ref, got, atol=atol, rtol=rtol, top_k=top_k)
    where = detection.detection_outputs(ref) if len(ref) == len(got) else None
    if where is None:
        return dataclasses.replace(base, passed=False, reason="detection compare needs (ids, scores, boxes) "
                                   "outputs shaped (B, N[, 1]), (B, N[, 1]), (B, N, 4)")
    if any(np.shape(ref[i]) != np.shape(got[i]) for i in where):
        return base  # compare already names the shape mismatch
    match = detection.match_detections([ref[i] for i in where], [got[i] for i in where],
                                       score_tol=options["score_tol"], iou_min=options["iou_min"],
                                       score_threshold=options["score_threshold"], atol=atol, rtol=rtol,
                                       candidates=options.get("nms_candidates"))
    rest = [i for i in range(len(ref)) if i not in where]
    n_rows = np.shape(ref[where[2]])[:2]
    rows = detection.per_detection_outputs(ref, got, [i for i in rest if np.shape(ref[i])[:2] == n_rows],
                                           match.pairs, atol=atol, rtol=rtol)
    passed, reason = match.passed, match.reason
    for i, r in rows.items():  # e.g. Mask R-CNN's masks, row by matched row
        if passed and not r.passed:
            passed, reason = False, f"output {i} of the matched detections: {r.reason}"
    extra = {**match.metrics(), "outputs_not_compared": [i for i in rest if i not in rows],
             "per_detection_outputs": {str(i): {"max_abs_err": r.metrics()["max_abs_err"], "mismatches": r.mismatches,
                                                "rows": len(match.pairs)} for i, r in rows.items()}}
    return dataclasses.replace(base, passed=passed, reason=reason, extra=extra)


@MODES.decorator("segmentation")
def segments(ref, got, *, atol, rtol, top_k, options) -> CompareResult:
    """Elementwise on the logits, and per-pixel argmax agreement on every (B, C, H, W) output."""
    base = compare(ref, got, atol=atol, rtol=rtol, top_k=top_k)
    if len(ref) != len(got) or any(np.shape(r) != np.shape(g) for r, g in zip(ref, got)):
        return base
    agreements = [segmentation.pixel_agreement(r, g) for r, g in zip(ref, got) if np.ndim(r) == 4]
    if not agreements:
        return dataclasses.replace(base, passed=False, reason="segmentation compare needs a (B, C, H, W) output")
    worst = min(agreements)
    extra = {"pixel_agreement": worst}
    if worst < options["min_pixel_agreement"] and base.passed:
        return dataclasses.replace(base, passed=False, extra=extra,
                                   reason=f"per-pixel classes agree on {worst:.4%} of pixels "
                                          f"(min_pixel_agreement {options['min_pixel_agreement']:g})")
    return dataclasses.replace(base, extra=extra)


def vacuous_outputs(ref: list[np.ndarray], atol: float) -> list[int]:
    """Outputs whose every reference value is within atol of 0: any output near 0 passes them."""
    return [i for i, r in enumerate(ref) if np.size(r) and np.isfinite(r).all() and np.abs(r).max() <= atol]


TIE_DOMINATED = 0.1  # of the kept detections tie: NMS's choices, not arithmetic, decide the output


def kept_detections(ref: list[np.ndarray]) -> int:
    """How many detections (score > 0) the reference kept, over every image."""
    where = detection.detection_outputs(ref)
    return 0 if where is None else int((np.asarray(ref[where[1]], dtype=np.float64) > 0).sum())


def tied_selections(ref: list[np.ndarray], top_k: int, mode: str) -> int:
    """How many rows tie exactly where a selection cuts (rank k-1 against rank k of output 0's
    non-constant rows; for detection, equal scores among the kept detections): there, the choice
    is arbitrary."""
    if mode == "detection":
        where = detection.detection_outputs(ref)
        if where is None:
            return 0
        scores = np.asarray(ref[where[1]], dtype=np.float64).reshape(np.shape(ref[where[1]])[0], -1)
        ties = 0
        for row in scores:
            kept = row[row > 0]
            ties += int(kept.size - np.unique(kept).size)
        return ties
    if not ref or np.ndim(ref[0]) < 1 or np.shape(ref[0])[-1] <= top_k:
        return 0
    rows = np.sort(np.asarray(ref[0], dtype=np.float64).reshape(-1, np.shape(ref[0])[-1]), axis=1)[:, ::-1]
    # A constant row ranks nothing: a masked position (BERT's encoder zeroes every position past
    # the valid length) is the same value on every runtime, not a choice among tied scores.
    ranked = rows[rows[:, 0] != rows[:, -1]]
    return int(np.sum(ranked[:, top_k - 1] == ranked[:, top_k]))
