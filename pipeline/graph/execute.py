"""Run a bundle on seeded random inputs and compare outputs: the evidence behind every pass.

The feed is pipeline.measure.inputs.random_feed, the one generator verify and calibration use.

Execution goes through the plain `cpu` target (MXNet's executor, Symbol API), the same path
a deployed model takes, so a pass is judged by what would actually be served.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.model.runtime_modules import ensure_runtime_modules
from pipeline.measure.inputs import random_feed  # noqa: F401  (the one generator; re-exported for the passes)


def run_bundle(bundle: ModelBundle, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The bundle's outputs on `feed`, from MXNet's plain executor."""
    from pipeline.targets.cpu import CpuTarget

    ensure_runtime_modules(bundle)

    with CpuTarget(api="symbol") as target:
        target.deploy(bundle)
        return target.infer(feed)


@dataclass(frozen=True)
class Comparison:
    """How far `got` is from `ref`: max |got-ref| and the worst violation of atol + rtol*|ref|."""

    ok: bool
    max_abs_err: float
    worst_excess: float
    detail: str = ""


def compare(ref: list[np.ndarray], got: list[np.ndarray], *, atol: float, rtol: float) -> Comparison:
    """Pure: elementwise |got - ref| <= atol + rtol * |ref| on every output (NaN never passes)."""
    if len(ref) != len(got):
        return Comparison(False, float("inf"), float("inf"), f"{len(got)} outputs, expected {len(ref)}")
    max_abs, worst = 0.0, -float("inf")
    for i, (r, g) in enumerate(zip(ref, got)):
        if r.shape != g.shape:
            return Comparison(False, float("inf"), float("inf"),
                              f"output {i} has shape {g.shape}, expected {r.shape}")
        r64, g64 = r.astype(np.float64), g.astype(np.float64)
        diff = np.abs(g64 - r64)
        if diff.size:
            if not np.all(np.isfinite(diff)) and not np.array_equal(r64, g64, equal_nan=True):
                return Comparison(False, float("inf"), float("inf"), f"output {i} has non-finite differences")
            diff = np.nan_to_num(diff, nan=0.0)
            max_abs = max(max_abs, float(diff.max()))
            worst = max(worst, float((diff - (atol + rtol * np.abs(np.nan_to_num(r64)))).max()))
    return Comparison(worst <= 0.0 or worst == -float("inf"), max_abs, max(worst, 0.0))
