"""The accuracy guard: the quantized model, as its target serves it, against fp32 on held-out rows.

The reference is the bundle before quantization on MXNet's plain executor (the cpu target);
the candidate is the quantized bundle deployed on the target it was made for. Both see the
same held-out feeds, which never include a calibration row (pipeline/precision/calibration.py).

Per held-out *sample* (one row of the batch, all outputs together) the guard measures:

- cosine similarity with fp32, which must be >= min_cosine for every sample;
- relative L2 error |got - ref| / |ref|, which must be <= max_rel_err for every sample
  (cosine alone would accept a model whose outputs are uniformly scaled);
- top-1 agreement of the first output, applied **only when the fp32 top-1 class varies across
  the held-out samples**. A network with random weights (every zoo model here: nothing is
  downloaded) often gives the same top-1 for every random input, so a broken quantization can
  agree on 100% of top-1s; top-1 then proves nothing and is reported but not judged. On a
  trained model with real data (examples/digits_cnn.py) it applies.
- and judged against a **noise floor**: random-weight logits nearly tie, so a candidate well
  within the cosine and relative-error thresholds can still flip a few top-1s that any
  perturbation of that size would flip. The guard adds isotropic noise of the largest error the
  other two thresholds admit (relative norm min(max_rel_err, sqrt(2 (1 - min_cosine)))) to the
  fp32 logits (seeded, a few draws) and measures how often that flips fp32's top-1. A candidate
  may then disagree on at most max(1 - min_top1_agreement, NOISE_FACTOR x that rate). The floor
  depends on the fp32 model and the thresholds only, never on the candidate, so every candidate
  of a tune run is held to the same top-1 bar: a bf16 model with cosine 0.99998 is no longer
  refused on one flip in 200 while a less accurate int8 model passes on one fewer. On a trained
  model with confident logits the floor is ~0 and min_top1_agreement applies as written.

Detectors (family detection, GluonCV's (ids, scores, boxes) outputs) are judged as detections,
not elements: after NMS a score moved by 1e-3 reorders rows or swaps which box survives, so even
bf16 showed cosine 0.73 on SSD's outputs. Per held-out image, the fraction of detections (score
> DETECTION_SCORE_THRESHOLD, both ways) that have a counterpart of the same class with |score
diff| <= DETECTION_SCORE_TOL and IoU >= DETECTION_IOU_MIN must be >= min_detection_agreement
(pipeline/measure/detection.py matches them). Measured on ssd_512_mobilenet1.0_voc at 320x320,
random calibrated weights, worst of 16 images: bf16 0.98, NNCF int8 0.93, int8+bf16 0.89 (random
weights give many overlapping boxes of close scores, so NMS swaps survivors); one class in ten
flipped gives 0.9. Cosine and relative error are still measured over every output and reported,
but do not decide there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.diagnostics import Diagnostic
from pipeline.measure import detection

DETECTION_SCORE_THRESHOLD = 0.1  # detections that matter; below, random-weight scores are noise
DETECTION_SCORE_TOL = 0.05
DETECTION_IOU_MIN = 0.5  # the PASCAL VOC match criterion
MIN_DETECTION_AGREEMENT = 0.9
NOISE_FACTOR = 2.0  # a candidate may flip twice as many top-1s as admissible-size noise does
NOISE_DRAWS = 8
NOISE_SEED = 0


@dataclass(frozen=True)
class GuardResult:
    min_cosine: float
    max_rel_err: float
    top1_agreement: float
    top1_applies: bool  # the fp32 top-1 varied across samples
    samples: int
    failures: tuple[str, ...]  # one sentence per broken threshold
    top1_noise_floor: float = 0.0  # fp32 top-1 flip rate under noise of the largest admissible error
    mode: str = "elementwise"  # or "detection": detections matched as sets decide (see the docstring)
    detection_agreement: float | None = None  # worst image's matched fraction, detection mode

    @property
    def passed(self) -> bool:
        return not self.failures

    def metrics(self) -> dict:
        metrics = {"cosine": round(self.min_cosine, 6), "max_rel_err": round(self.max_rel_err, 6),
                   "top1_agreement": round(self.top1_agreement, 6), "top1_judged": self.top1_applies,
                   "top1_noise_floor": round(self.top1_noise_floor, 6), "holdout_samples": self.samples,
                   "guard_mode": self.mode}
        if self.detection_agreement is not None:
            metrics["detection_agreement"] = round(self.detection_agreement, 6)
        return metrics


def guard_mode(bundle) -> str:
    """detection where verify would compare detections (its family's mode), else elementwise:
    segmentation logits are judged by cosine like any other tensor."""
    from pipeline.measure.modes import default_mode

    mode = default_mode((bundle.metadata.get("source") or {}).get("family"))
    return "detection" if mode == "detection" else "elementwise"


def detection_agreement(refs: list[list[np.ndarray]], gots: list[list[np.ndarray]]) -> float | None:
    """Pure: the worst image's fraction of matched detections, or None without detection outputs."""
    where = detection.detection_outputs(refs[0]) if refs else None
    if where is None:
        return None
    worst = 1.0
    for ref, got in zip(refs, gots):
        for b in range(np.asarray(ref[where[0]]).shape[0]):
            match = detection.match_detections(
                [np.asarray(ref[i])[b:b + 1] for i in where], [np.asarray(got[i])[b:b + 1] for i in where],
                score_tol=DETECTION_SCORE_TOL, iou_min=DETECTION_IOU_MIN, score_threshold=DETECTION_SCORE_THRESHOLD)
            worst = min(worst, match.matched_fraction)
    return worst


def _sample_rows(outputs: list[np.ndarray], batch: int) -> np.ndarray:
    """(batch, features): each sample's outputs flattened and joined; one row if not batch-first."""
    if all(o.ndim >= 1 and o.shape[0] == batch for o in outputs):
        return np.concatenate([np.asarray(o, np.float64).reshape(batch, -1) for o in outputs], axis=1)
    return np.concatenate([np.asarray(o, np.float64).ravel() for o in outputs])[None, :]


def _row_cosine(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    nr, ng = np.linalg.norm(ref, axis=1), np.linalg.norm(got, axis=1)
    dot = np.einsum("ij,ij->i", ref, got)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where((nr == 0) & (ng == 0), 1.0, dot / (nr * ng))
    return np.nan_to_num(cos, nan=-1.0)


def _row_rel(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    nr, nd = np.linalg.norm(ref, axis=1), np.linalg.norm(got - ref, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(nr == 0, np.where(nd == 0, 0.0, np.inf), nd / nr)
    return np.nan_to_num(rel, nan=np.inf)


def admissible_rel_error(min_cosine: float, max_rel_err: float) -> float:
    """The largest relative L2 error a candidate can have and still pass both numeric thresholds."""
    return float(min(max_rel_err, np.sqrt(2.0 * max(0.0, 1.0 - min_cosine))))


def noise_flip_rate(logits: np.ndarray, noise_norms: np.ndarray, *, draws: int = NOISE_DRAWS,
                    seed: int = NOISE_SEED) -> float:
    """Pure: how often fp32's top-1 changes when each row gets isotropic noise of the given norm."""
    if logits.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    top = logits.argmax(axis=1)
    flips = 0
    for _ in range(draws):
        noise = rng.standard_normal(logits.shape)
        norms = np.linalg.norm(noise, axis=1, keepdims=True)
        noise *= np.where(norms > 0, noise_norms[:, None] / np.maximum(norms, 1e-300), 0.0)
        flips += int(((logits + noise).argmax(axis=1) != top).sum())
    return flips / (draws * logits.shape[0])


def judge(refs: list[list[np.ndarray]], gots: list[list[np.ndarray]], batch: int, *, min_cosine: float,
          max_rel_err: float, min_top1_agreement: float, mode: str = "elementwise",
          min_detection_agreement: float = MIN_DETECTION_AGREEMENT) -> GuardResult:
    """Pure: per-sample cosine, relative error and top-1 over every held-out feed (detection
    mode: matched detections instead, see the module docstring)."""
    agreement = detection_agreement(refs, gots) if mode == "detection" else None
    cos, rel, top_ref, top_got, firsts = [], [], [], [], []
    for ref, got in zip(refs, gots):
        r, g = _sample_rows(ref, batch), _sample_rows(got, batch)
        cos.append(_row_cosine(r, g))
        rel.append(_row_rel(r, g))
        first_r = np.asarray(ref[0]).reshape(-1, np.asarray(ref[0]).shape[-1]) if np.asarray(ref[0]).ndim else None
        first_g = np.asarray(got[0]).reshape(first_r.shape) if first_r is not None else None
        if first_r is not None:
            top_ref.append(first_r.argmax(axis=1))
            top_got.append(first_g.argmax(axis=1))
            firsts.append(first_r.astype(np.float64))
    cos_all, rel_all = np.concatenate(cos), np.concatenate(rel)
    top_r = np.concatenate(top_ref) if top_ref else np.zeros(0, int)
    top_g = np.concatenate(top_got) if top_got else np.zeros(0, int)
    top1 = float(np.mean(top_r == top_g)) if top_r.size else 1.0
    applies = len(np.unique(top_r)) > 1
    logits = np.concatenate(firsts) if firsts else np.zeros((0, 1))
    scale = admissible_rel_error(min_cosine, max_rel_err)
    floor = noise_flip_rate(logits, scale * np.linalg.norm(logits, axis=1)) if applies else 0.0
    allowed = max(1.0 - min_top1_agreement, NOISE_FACTOR * floor)
    worst_cos, worst_rel = float(cos_all.min()), float(rel_all.max())
    if agreement is not None:
        failures = [] if agreement >= min_detection_agreement else [
            f"detection agreement {agreement:.4f} < min_detection_agreement {min_detection_agreement:g} (worst image; "
            f"same class, |score diff| <= {DETECTION_SCORE_TOL:g}, IoU >= {DETECTION_IOU_MIN:g} for detections "
            f"scoring > {DETECTION_SCORE_THRESHOLD:g})"]
        return GuardResult(worst_cos, worst_rel, top1, False, int(cos_all.size), tuple(failures), 0.0,
                           "detection", agreement)
    failures = []
    if worst_cos < min_cosine:
        failures.append(f"cosine {worst_cos:.4f} < min_cosine {min_cosine:g} "
                        f"({int((cos_all < min_cosine).sum())} of {cos_all.size} samples below)")
    if worst_rel > max_rel_err:
        failures.append(f"relative error {worst_rel:.4f} > max_rel_err {max_rel_err:g} "
                        f"({int((rel_all > max_rel_err).sum())} of {rel_all.size} samples above)")
    if applies and 1.0 - top1 > allowed + 1e-12:
        failures.append(f"top-1 agreement {top1:.4f} < {1.0 - allowed:.4f} (min_top1_agreement "
                        f"{min_top1_agreement:g}; noise of the largest admissible error flips {floor:.4f} of "
                        f"fp32's top-1s)")
    return GuardResult(worst_cos, worst_rel, top1, applies, int(cos_all.size), tuple(failures), floor)


def run_guard(reference, candidate, feeds: list[dict[str, np.ndarray]], batch: int, **thresholds) -> GuardResult:
    """Run both sessions (objects with `infer(feed)`) on every feed and judge the outputs."""
    refs = [reference.infer(feed) for feed in feeds]
    gots = [candidate.infer(feed) for feed in feeds]
    return judge(refs, gots, batch, **thresholds)


def refusal(result: GuardResult, precision: str, target: str) -> Diagnostic:
    """QNT101: the quantized model is not the fp32 model, with every measured number."""
    judged = "judged: the fp32 top-1 varies" if result.top1_applies else "not judged: the fp32 top-1 is the same for every sample"
    if result.mode == "detection":
        judged = f"detections judged as sets: worst image agreement {result.detection_agreement:.4f}"
    return Diagnostic(
        "QNT101", "error",
        f"{precision} model for {target} refused by the accuracy guard on {result.samples} held-out samples: "
        f"{'; '.join(result.failures)} (measured: min cosine {result.min_cosine:.4f}, max relative error "
        f"{result.max_rel_err:.4f}, top-1 agreement {result.top1_agreement:.4f}, {judged})",
        hint="calibrate on data like what the model will serve (calibration.input: npz or images), try "
             "method: entropy or percentile, or keep the sensitive nodes in fp32 (exclude_nodes)")
