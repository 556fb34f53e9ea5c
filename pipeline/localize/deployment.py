"""Localization for the verify stage: the source's reference against the deployed model.

Verify compares the deployed outputs with a reference rebuilt from `metadata["reference"]`;
this module builds the tappable form of both: the reference as the source's own graph (the
Gluon block's hybridized export, the source checkpoint, or the original ONNX file on ONNX
Runtime) and the deployed bundle on its deployment target. A target that cannot be tapped, or
a model whose nodes match nothing, yields a `skipped` record with the reason, never a crash of
the verify stage (the verdict is verify's; localization only explains it).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from pipeline.core.errors import MxdeployError
from pipeline.localize.errors import LocalizeError
from pipeline.localize.localizer import DEFAULT_MAX_TAPS, localize

LOCALIZE_FILE = "localize.json"


def reference_side(spec: dict, bundle, run_dir: Path):
    """The reference as a side: MXNet for gluon/checkpoint sources, ONNX Runtime for onnx ones."""
    from pipeline.localize.mxnet_side import MXNetSide
    from pipeline.localize.onnx_side import OnnxSide

    kind = spec.get("kind")
    if kind == "gluon":
        from pipeline.model.resolve import build_block, export_block

        config_dir = spec.get("config_dir")
        block = build_block(model=spec.get("model"), factory=spec.get("factory"), kwargs=spec.get("kwargs"),
                            config_dir=Path(config_dir) if config_dir else None, params=Path(run_dir) / spec["params"])
        with tempfile.TemporaryDirectory() as tmp:
            ref = export_block(block, bundle.inputs, Path(tmp))
        return MXNetSide("reference", "cpu", ref)
    if kind == "checkpoint":
        from pipeline.model.resolve import load_checkpoint

        return MXNetSide("reference", "cpu", load_checkpoint(spec["prefix"], spec["epoch"], bundle.inputs))
    if kind == "onnxruntime":
        from pipeline.onnx.load import read_onnx

        return OnnxSide("reference", "onnxruntime", read_onnx(spec["path"]), bundle.inputs)
    raise LocalizeError(f"reference kind '{kind}' cannot be tapped", code="LOC005",
                        hint="localization supports gluon, checkpoint and onnx sources")


def localize_deployment(bundle, feed, *, run_dir: Path, atol: float, rtol: float,
                        max_taps: int = DEFAULT_MAX_TAPS) -> dict:
    """localize.json data: the finding, or {"status": "skipped", "reason": ...}."""
    from pipeline.localize.sides import bundle_side

    deployment = bundle.metadata.get("deployment") or {}
    sides = []
    try:
        sides.append(reference_side(bundle.metadata.get("reference") or {}, bundle, run_dir))
        sides.append(bundle_side("deployed", deployment.get("target", "cpu"), bundle, base_dir=Path(run_dir)))
        a, b = sides
        baseline = (a.run(feed, [])[0], b.run(feed, [])[0])
        data, _ = localize(a, b, feed, atol=atol, rtol=rtol, max_taps=max_taps, baseline=baseline)
    except MxdeployError as exc:
        return {"status": "skipped", "reason": exc.one_line()}
    finally:
        for side in sides:
            side.close()
    return {"status": "localized" if data["first_divergent"] else "not_found", **data}
