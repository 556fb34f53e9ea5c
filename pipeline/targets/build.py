"""The one place a target session is built from a bundle's metadata.

Deploy, verify, quantize's guard and tune all open a target on a bundle they did not make
themselves: the bundle may be quantized (its format decides who may serve it, QNT201, and a
file format needs the run directory its path is relative to) and, when deploy came from the
cache, the deployment record says what was deployed and how. `open_target` reads those, so the
rules hold on every path; `deployed_target` opens the deployment a bundle records.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import TargetError
from pipeline.model import quantized
from pipeline.targets.base import TARGETS, Target, targets_serving


def check_servable(metadata: dict, target: str) -> None:
    """Refuse to serve a quantized bundle on a target that would silently run it in fp32 (QNT201).

    Who serves a format is what the targets declare (`Target.formats`)."""
    rec = quantized.record(metadata)
    if rec is None:
        return
    served = targets_serving(rec.get("format", ""))
    if target not in served:
        raise TargetError(f"the bundle was quantized to {rec.get('precision')} as {rec.get('format')} for "
                          f"'{rec.get('target')}'; target '{target}' would serve it in full precision",
                          code="QNT201", where=target,
                          hint=f"deploy to {' or '.join(sorted(served)) or 'its own target'}, or quantize for "
                               f"'{target}'")


def open_target(name: str, metadata: dict, run_dir: str | Path, **options) -> Target:
    """The target `name` (not yet deployed) for a bundle with `metadata`, with `options`.

    The run-directory options a quantized artifact needs are added here and never recorded."""
    check_servable(metadata, name)
    return TARGETS.get(name)(**options, **quantized.runtime_options(metadata, run_dir))


def deployed_target(metadata: dict, run_dir: str | Path) -> Target | None:
    """The target the bundle's deployment record names, opened with its options; None if none."""
    deployment = metadata.get("deployment")
    if not deployment:
        return None
    return open_target(deployment["target"], metadata, run_dir, api=deployment["api"],
                       **deployment.get("options", {}))
