"""Run a bundle on seeded random inputs and compare outputs: the evidence behind every pass.

Execution goes through the plain `cpu` target (MXNet's executor, Symbol API), the same path
a deployed model takes, so a pass is judged by what would actually be served.
"""
from __future__ import annotations

import numpy as np

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.model.runtime_modules import ensure_runtime_modules


def random_feed(inputs: list[TensorSpec], seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal floats; small non-negative integers for integer inputs (valid indices)."""
    rng = np.random.default_rng(seed)
    feed = {}
    for spec in inputs:
        dtype = np.dtype(spec.dtype)
        if np.issubdtype(dtype, np.integer):
            feed[spec.name] = rng.integers(0, 4, size=spec.shape).astype(dtype)
        else:
            feed[spec.name] = rng.standard_normal(spec.shape).astype(dtype)
    return feed


def run_bundle(bundle: ModelBundle, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The bundle's outputs on `feed`, from MXNet's plain executor."""
    from pipeline.targets.cpu import CpuTarget

    ensure_runtime_modules(bundle)

    with CpuTarget(api="symbol") as target:
        target.deploy(bundle)
        return target.infer(feed)
