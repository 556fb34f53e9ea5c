"""`quantize`: int8 or bf16 for one target, calibrated on one set of rows, guarded on another.

The quantizer comes from a registry keyed by (precision, target) (pipeline/precision/quantizers.py):
ONNX Runtime's static QDQ quantization for onnxruntime and openvino, MXNet's oneDNN
quantization for cpu and onednn int8, MXNet's AMP for their bf16, OpenVINO's precision hint
for openvino bf16. Whatever it made is then deployed on its target and compared with the fp32
bundle on MXNet's executor over held-out rows (pipeline/precision/guard.py); below a threshold
the stage fails with QNT101 naming every measured number, and the fp32 bundle is what it
returns: a quantization that changes the answers is refused, never served.
"""
from __future__ import annotations

import time

from pipeline.core import atomic
from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import StageError
from pipeline.core.paramspec import ParamIssue, to_plain
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage
from pipeline.targets.build import open_target
from pipeline.targets.cpu import CpuTarget
from pipeline.precision.catalog import QUANTIZERS, QuantizeJob, key, quantizer_keys
from pipeline.precision.calibration import batch_size, split_feeds
from pipeline.precision.guard import guard_mode, refusal, run_guard
from pipeline.precision.settings import QuantizeParams

GUARD_FILE = "guard.json"


@register_stage
class Quantize(Stage):
    host_dependent = True  # bf16 is refused without native bf16; the int8 kernels differ by CPU
    name = "quantize"
    summary = "int8 or bf16 for a target, calibrated, and refused if held-out outputs drift from fp32"
    Params = QuantizeParams

    @classmethod
    def check_params(cls, params: QuantizeParams) -> list[ParamIssue]:
        issues = []
        name = key(params.precision, params.target)
        if name not in QUANTIZERS:
            have = [t for p, t in quantizer_keys() if p == params.precision]
            issues.append(ParamIssue(("target",), f"no {params.precision} quantizer for target '{params.target}'; "
                                                  f"{params.precision} is made for: {', '.join(have)}"))
        elif params.method not in (quantizer := QUANTIZERS.get(name)).methods:
            issues.append(ParamIssue(("method",), f"{quantizer.label} (target {params.target}) calibrates with "
                                                  f"{' or '.join(quantizer.methods)}, not {params.method}"))
        cal = params.calibration
        if cal.input != "random" and not cal.path:
            issues.append(ParamIssue(("calibration", "path"), f"calibration input {cal.input} needs a path"))
        if cal.samples < 1:
            issues.append(ParamIssue(("calibration", "samples"), f"expected at least 1, got {cal.samples}"))
        if params.holdout < 1:
            issues.append(ParamIssue(("holdout",), f"expected at least 1 held-out row, got {params.holdout}"))
        for name in ("min_cosine", "min_top1_agreement", "min_detection_agreement"):
            if not -1.0 <= getattr(params, name) <= 1.0:
                issues.append(ParamIssue((name,), f"expected a value in [-1, 1], got {getattr(params, name)}"))
        if params.max_rel_err < 0:
            issues.append(ParamIssue(("max_rel_err",), f"expected >= 0, got {params.max_rel_err}"))
        return issues

    def run(self, bundle: ModelBundle | None, params: QuantizeParams, ctx: RunContext):
        if bundle is None:
            raise StageError("quantize needs a model", code="QNT102", hint="put a source stage before quantize")
        if quantized.record(bundle.metadata):
            raise StageError("the bundle is already quantized", code="QNT102",
                             hint="quantize once, from the full-precision model")
        started = time.perf_counter()
        path = ctx.resolve(params.calibration.path) if params.calibration.path else None
        feeds = split_feeds(bundle.inputs, params.calibration, path, holdout=params.holdout, seed=params.seed)
        ctx.stage_dir.mkdir(parents=True, exist_ok=True)
        job = QuantizeJob(bundle, params, feeds.calibration, ctx.stage_dir, ctx.run_dir)
        out = QUANTIZERS.get(key(params.precision, params.target))(job)
        made = time.perf_counter()
        with CpuTarget(api="symbol") as reference, open_target(params.target, out.metadata, ctx.run_dir) as candidate:
            reference.deploy(bundle)
            candidate.deploy(out)
            guard = run_guard(reference, candidate, feeds.holdout, batch_size(bundle.inputs),
                              min_cosine=params.min_cosine, max_rel_err=params.max_rel_err,
                              min_top1_agreement=params.min_top1_agreement, mode=guard_mode(bundle),
                              min_detection_agreement=params.min_detection_agreement)
        record = out.metadata[quantized.KEY]
        metrics = {"precision": params.precision, "target": params.target, "format": record["format"],
                   "calibration_samples": params.calibration.samples, **guard.metrics(),
                   "quantize_seconds": round(made - started, 3),
                   "guard_seconds": round(time.perf_counter() - made, 3)}
        atomic.write_json(ctx.stage_dir / GUARD_FILE, {
            "passed": guard.passed, "failures": list(guard.failures), "metrics": metrics,
            "thresholds": {"min_cosine": params.min_cosine, "max_rel_err": params.max_rel_err,
                           "min_top1_agreement": params.min_top1_agreement,
                           "min_detection_agreement": params.min_detection_agreement},
            "params": to_plain(params)})
        artifacts = {"guard": GUARD_FILE}
        if "path" in record:
            artifacts["quantized_model"] = record["path"].rsplit("/", 1)[-1]
        if not guard.passed:
            return bundle, StageResult(status="failed", metrics=metrics, artifacts=artifacts,
                                       diagnostics=[refusal(guard, params.precision, params.target)])
        return out, StageResult(metrics=metrics, artifacts=artifacts)
