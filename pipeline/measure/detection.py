"""Detection outputs compared as sets of (class, score, box), not element by element.

After NMS, which rows a detector emits, and in which order, hinges on score gaps far below
any tolerance: MXNet's own fused and unfused Mask R-CNN graphs differ in 8 box elements,
Faster R-CNN FPN against itself in 91,194. So each reference detection above `score_threshold`
must have a deployed detection of the same class with |score diff| <= score_tol and
IoU >= iou_min, and vice versa; the order of rows is free. Pure functions, float64.

Defaults (docs/gluoncv.md): score_tol 1e-3 and iou_min 0.99. fp32 runtimes differ by ~1e-5 in
scores and box coordinates (accumulation order), 100x below score_tol, and IoU of boxes that
close is > 0.999; a box moved by 1% of its size or a score off by 0.1% already fails.
score_threshold 0.01 is GluonCV's own NMS `valid_thresh`: every emitted box is compared.
A box whose every coordinate is within verify's atol + rtol*s also matches, s the box's largest
|coordinate| (box_scale): a thin box far from the origin (1558 px, 13 px high, decoded through
exp) loses 1% IoU to 5e-5 relative drift that the elementwise rule accepts. Near the cut, a box the other side scores just below the threshold (or just past the top-k
limit, when every row is used) is not required to match: only boxes clear of the cut by
score_tol are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCORE_TOL = 1e-3
IOU_MIN = 0.99
SCORE_THRESHOLD = 0.01


@dataclass(frozen=True)
class DetectionMatch:
    passed: bool
    reason: str
    matched_fraction: float
    worst_score_diff: float
    worst_iou: float
    compared: int  # detections above the cut, both sides together
    tie_swaps: int = 0  # detections the other side's NMS suppressed for a tied one (both sides counted)
    pairs: tuple[tuple[int, int, int], ...] = ()  # (image, reference row, deployed row) matched

    def metrics(self) -> dict:
        return {"matched_fraction": self.matched_fraction, "worst_score_diff": self.worst_score_diff,
                "worst_iou": self.worst_iou, "detections_compared": self.compared, "nms_tie_swaps": self.tie_swaps}


def detection_outputs(outputs: list[np.ndarray]) -> tuple[int, int, int] | None:
    """Indexes of (ids, scores, boxes) among `outputs`: GluonCV's (B, N[, 1]), (B, N[, 1]), (B, N, 4)."""
    for i in range(len(outputs) - 2):
        ids, scores, boxes = (np.asarray(o) for o in outputs[i:i + 3])
        if boxes.ndim == 3 and boxes.shape[-1] == 4 and \
                all(a.shape in (boxes.shape[:2], boxes.shape[:2] + (1,)) for a in (ids, scores)):
            return i, i + 1, i + 2
    return None


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of corner boxes a (n, 4) against b (m, 4) -> (n, m)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        # two identical degenerate boxes (zero area) are the same box
        same = np.all(a[:, None, :] == b[None, :, :], axis=2)
        return np.where(union > 0, inter / np.where(union > 0, union, 1), same.astype(np.float64))


def box_scale(values: np.ndarray, coord_start: int) -> np.ndarray:
    """The magnitudes verify's rtol applies to, for a tensor whose last axis holds a corner box at
    [coord_start, coord_start + 4): each coordinate takes its box's largest |coordinate|, every
    other element its own |value|.

    A corner coordinate is a center minus (or plus) a half-size, so its float32 error is set by
    those operands, not by the result: Mask R-CNN's RPN decodes x2 = 0.0994 from a center and
    half-width near 1132, and ONNX Runtime, OpenVINO and MXNet differ there by 1.2e-3, ten float32
    steps of the operands and 1.2% of the coordinate. The box's largest coordinate bounds those
    operands once the box is clipped to the image; a box moved by 1% of its own size still fails."""
    magnitude = np.abs(np.asarray(values, dtype=np.float64))
    coords = magnitude[..., coord_start:coord_start + 4]
    if coords.shape[-1] == 4:
        magnitude[..., coord_start:coord_start + 4] = coords.max(axis=-1, keepdims=True)
    return magnitude


def _rows(ids, scores, boxes, b: int):
    i, s, x = (np.asarray(v, dtype=np.float64)[b] for v in (ids, scores, boxes))
    i, s = i.reshape(-1), s.reshape(-1)
    valid = (i >= 0) & (s >= 0) & np.isfinite(s)  # GluonCV pads with -1
    return i, s, x, valid


# IoU blocks are computed for at most this many (row, candidate) pairs at once: a detector without
# post-NMS top-k (Faster R-CNN FPN on COCO: 1000 ROIs x 80 classes) emits 80,000 rows, and the
# dense (n, m, 4) float64 form of 80,000 x 80,000 boxes is 200 GB (the worker was SIGKILLed).
BLOCK_PAIRS = 1 << 20


def _overlaps(ax: np.ndarray, bx: np.ndarray, iou_min: float, atol: float, rtol: float) -> np.ndarray:
    """IoU of ax (n, 4) against bx (m, 4), raised to iou_min where every coordinate is within
    verify's allclose rule at the box's scale (box_scale)."""
    overlaps = iou(ax, bx)
    close = np.all(np.abs(ax[:, None, :] - bx[None, :, :]) <= atol + rtol * box_scale(ax, 0)[:, None, :], axis=2)
    return np.where(close & (overlaps < iou_min), iou_min, overlaps)


def _match_side(ai, a_s, ax, need, bi, b_s, bx, pool, *, score_tol, iou_min, atol, rtol):
    """Greedy one-to-one matching of the `need` rows of side a to the `pool` rows of side b, class
    by class and in blocks of rows (memory O(BLOCK_PAIRS)). Yields (row, IoU, |score diff|, its
    counterpart's row) per need row, all None but the row when it has no counterpart."""
    used = np.zeros(bx.shape[0], dtype=bool)
    for cls in np.unique(ai[need]):
        rows = need[ai[need] == cls]
        cand = pool[bi[pool] == cls]
        step = max(1, BLOCK_PAIRS // max(1, cand.size))
        for start in range(0, rows.size, step):
            block = rows[start:start + step]
            overlaps = _overlaps(ax[block], bx[cand], iou_min, atol, rtol) if cand.size else np.zeros((block.size, 0))
            for r, n in enumerate(block):
                ok = (~used[cand]) & (np.abs(b_s[cand] - a_s[n]) <= score_tol) & (overlaps[r] >= iou_min)
                if not ok.any():
                    yield n, None, None, None
                    continue
                col = int(np.argmax(np.where(ok, overlaps[r], -1.0)))
                used[cand[col]] = True
                yield n, float(overlaps[r, col]), float(abs(b_s[cand[col]] - a_s[n])), int(cand[col])


def _is_candidate(cls: float, score: float, box: np.ndarray, candidates: np.ndarray, *, score_tol: float,
                  iou_min: float, atol: float, rtol: float) -> bool:
    """Whether `candidates` ((n, 6): class, score, corner box; class NaN for class-agnostic NMS)
    holds this detection: same class, score within score_tol, the same box."""
    rows = candidates[(np.isnan(candidates[:, 0]) | (candidates[:, 0] == cls))
                      & (np.abs(candidates[:, 1] - score) <= score_tol)]
    return bool(rows.size) and bool((_overlaps(box[None], rows[:, 2:6], iou_min, atol, rtol) >= iou_min).any())


def _tied_suppressions(lost, own, kept, other_candidates, overlap_thresh: float, *, score_tol, iou_min, atol,
                       rtol) -> list[int]:
    """The rows of `lost` (one side's detections without counterpart) that the other side's NMS
    read and suppressed in favour of a tied one: the box is among `other_candidates` (its NMS
    input) with its class and score, and the other side kept (`kept`: its valid rows) a detection
    of that class, score within score_tol, overlapping it beyond the NMS's overlap_thresh. Which
    of two tied overlapping candidates NMS keeps is the order of equal scores (Faster R-CNN FPN:
    18,082 tied scores; two near-tied RPN proposals in swapped order, the same set, so the second
    stage scored the same ROIs in another order)."""
    ki, ks, kx = kept
    ai, a_s, ax = own
    excused = []
    for n in lost:
        same = np.flatnonzero((ki == ai[n]) & (np.abs(ks - a_s[n]) <= score_tol))
        if not same.size or iou(ax[n][None], kx[same]).max() < overlap_thresh - 1e-6:
            continue
        if _is_candidate(ai[n], a_s[n], ax[n], other_candidates, score_tol=score_tol, iou_min=iou_min, atol=atol,
                         rtol=rtol):
            excused.append(n)
    return excused


def _cascade_suppressions(lost: dict, unmatched: dict, sides: dict, overlap_thresh: float, *, score_tol, iou_min,
                          atol, rtol) -> int:
    """Excuse each lost detection n of one side that the other side's NMS
    read and suppressed with a box k it kept that this side lacks (k unmatched here: this side's
    NMS suppressed k in turn): same class, IoU(n, k) beyond overlap_thresh, k scoring at least n's
    score - score_tol. That is one tie broken another way propagating down NMS's greedy order
    (Faster R-CNN FPN: 18,079 tied final scores). A real difference does not pass: a moved or
    rescored box is on neither side's NMS input, or outscores the box that would excuse it, and
    every unmatched detection of both sides must be excused. Edits `lost`; returns how many."""
    excused = 0
    for side, ((ai, a_s, ax), (bi, b_s, bx), other_candidates, other) in sides.items():
        for n in list(lost[side]):
            ks = [k for k in unmatched[other] if bi[k] == ai[n] and b_s[k] >= a_s[n] - score_tol]
            if not ks or iou(ax[n][None], bx[ks]).max() <= overlap_thresh - 1e-6:
                continue
            if _is_candidate(ai[n], a_s[n], ax[n], other_candidates, score_tol=score_tol, iou_min=iou_min,
                             atol=atol, rtol=rtol):
                lost[side].remove(n)
                excused += 1
    return excused


def match_detections(ref: list[np.ndarray], got: list[np.ndarray], *, score_tol: float = SCORE_TOL,
                     iou_min: float = IOU_MIN, score_threshold: float = SCORE_THRESHOLD, atol: float = 0.0,
                     rtol: float = 0.0, candidates: tuple[np.ndarray, np.ndarray] | None = None) -> DetectionMatch:
    """Match (ids, scores, boxes) of `ref` and `got` (lists of the three arrays) as sets per image.

    `candidates`: (reference rows, deployed rows, overlap_thresh): the rows (class, score, box)
    the final NMS read on each side (verify taps them, pipeline/localize/pre_nms.py) and its IoU
    threshold; with them, a tie NMS broke another way (_tied_suppressions) is not a mismatch.
    Without them every detection must match."""
    (r_ids, r_scores, r_boxes), (g_ids, g_scores, g_boxes) = ref, got
    matched = compared = swapped = 0
    pairs: list[tuple[int, int, int]] = []
    worst_diff, worst_iou, reason = 0.0, 1.0, ""
    for b in range(np.asarray(r_ids).shape[0]):
        ri, rs, rx, rv = _rows(r_ids, r_scores, r_boxes, b)
        gi, gs, gx, gv = _rows(g_ids, g_scores, g_boxes, b)
        cut = score_threshold
        if rv.all() and rv.size:  # every row used: top-k truncated, its last score is a cut too
            cut = max(cut, rs[rv].min())
        if gv.all() and gv.size:
            cut = max(cut, gs[gv].min())
        lost: dict[str, list[int]] = {"reference": [], "deployed": []}
        for (ai, a_s, ax, av), (bi, b_s, bx, bv), side in (((ri, rs, rx, rv), (gi, gs, gx, gv), "reference"),
                                                        ((gi, gs, gx, gv), (ri, rs, rx, rv), "deployed")):
            need = np.flatnonzero(av & (a_s > cut + score_tol))
            pool = np.flatnonzero(bv & (b_s >= cut - score_tol))
            for n, overlap, diff, other in _match_side(ai, a_s, ax, need, bi, b_s, bx, pool, score_tol=score_tol,
                                                iou_min=iou_min, atol=atol, rtol=rtol):
                compared += 1
                if overlap is None:
                    lost[side].append(n)
                    continue
                matched += 1
                if side == "reference":
                    pairs.append((b, int(n), other))
                worst_iou = min(worst_iou, overlap)
                worst_diff = max(worst_diff, diff)
        if candidates is not None:
            ref_cand, got_cand, overlap_thresh = candidates
            opts = dict(score_tol=score_tol, iou_min=iou_min, atol=atol, rtol=rtol)
            unmatched = {side: list(rows) for side, rows in lost.items()}  # before any excuse
            for side, own, kept, other in (("reference", (ri, rs, rx), (gi[gv], gs[gv], gx[gv]), got_cand),
                                           ("deployed", (gi, gs, gx), (ri[rv], rs[rv], rx[rv]), ref_cand)):
                excused = _tied_suppressions(lost[side], own, kept, other, overlap_thresh, **opts)
                swapped += len(excused)
                lost[side] = [n for n in lost[side] if n not in set(excused)]
            sides = {"reference": ((ri, rs, rx), (gi, gs, gx), got_cand, "deployed"),
                     "deployed": ((gi, gs, gx), (ri, rs, rx), ref_cand, "reference")}
            cascaded = _cascade_suppressions(lost, unmatched, sides, overlap_thresh, **opts)
            swapped += cascaded
        for side, (ai, a_s, ax) in (("reference", (ri, rs, rx)), ("deployed", (gi, gs, gx))):
            if lost[side] and not reason:
                n = lost[side][0]
                reason = (f"image {b}: the {side} detection class {ai[n]:g} score {a_s[n]:.6g} box "
                          f"{np.round(ax[n], 3).tolist()} has no counterpart (same class, |score diff| <= "
                          f"{score_tol:g}, IoU >= {iou_min:g} or coordinates within atol + rtol*|box|)")
    fraction = matched / compared if compared else 1.0
    return DetectionMatch(not reason, reason, fraction, worst_diff, worst_iou, compared, swapped, tuple(pairs))


def per_detection_outputs(ref: list[np.ndarray], got: list[np.ndarray], indexes: list[int], pairs, *,
                          atol: float, rtol: float) -> dict[int, "object"]:
    """{output index: CompareResult} for each output of `indexes` holding one value per detection
    row ((B, N, ...), as Mask R-CNN's (B, N, 14, 14) masks): the rows of matched detections
    compared elementwise, reference row against its deployed counterpart."""
    from pipeline.measure.compare import compare

    out = {}
    for i in indexes:
        r, g = np.asarray(ref[i]), np.asarray(got[i])
        if r.shape != g.shape or r.ndim < 3 or not pairs:
            continue
        b, n, m = (np.array(v) for v in zip(*pairs))
        out[i] = compare([r[b, n]], [g[b, m]], atol=atol, rtol=rtol, top_k=1)
    return out
