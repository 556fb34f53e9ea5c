"""Run a bundle on seeded random inputs and compare outputs: the evidence behind every pass.

The feed is pipeline.measure.inputs.random_feed, the one generator verify and calibration use.

Execution goes through the plain `cpu` target (MXNet's executor, Symbol API), the same path
a deployed model takes, so a pass is judged by what would actually be served.
"""
from __future__ import annotations

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
