"""Segmentation outputs: per-pixel class agreement, on top of the elementwise logits rule.

A pixel whose two best logits are within float noise may flip between runtimes without any
logit leaving tolerance, so agreement is a fraction, not all-or-nothing. Default 0.999 (docs/
gluoncv.md): fp32 drift (~1e-5) flips only pixels tied to that precision, far fewer than one
in a thousand for calibrated weights; one class flipped over a region fails it.
"""
from __future__ import annotations

import numpy as np

MIN_PIXEL_AGREEMENT = 0.999


def pixel_agreement(ref: np.ndarray, got: np.ndarray, *, class_axis: int = 1) -> float:
    """Fraction of pixels whose argmax class over `class_axis` is the same in `ref` and `got`."""
    r = np.argmax(np.asarray(ref), axis=class_axis)
    g = np.argmax(np.asarray(got), axis=class_axis)
    return float(np.mean(r == g)) if r.size else 1.0
