"""The quantize stage's parameters (declared apart from the stage so backends can import them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pipeline.core.paramspec import OneOf, param
from pipeline.precision.calibration import CalibrationParams


def quantize_targets() -> list[str]:
    """The targets that declare a reduced precision (Target.precisions): the choices of `target`."""
    from pipeline.targets import quantize_target_names

    return quantize_target_names()


@dataclass(frozen=True)
class QuantizeParams:
    precision: Literal["int8", "bf16", "int8+bf16"] = param(
        "int8", "the reduced precision to serve in (int8+bf16: int8, and bf16 for what stays in float)")
    target: Annotated[str, OneOf(quantize_targets, "target")] = param(
        "onnxruntime", "the target the quantized model is for (it picks the quantizer)")
    calibration: CalibrationParams = param(help="rows to calibrate int8 ranges on: {input: random | npz | images, "
                                                "path, samples}", factory=CalibrationParams)
    method: Literal["minmax", "entropy", "percentile"] = param(
        "minmax", "how activation ranges are chosen from the calibration rows (percentile: onnx targets only)")
    per_channel: bool = param(True, "one weight scale per output channel (else one per tensor)")
    exclude_nodes: list[str] = param(help="MXNet node names kept in full precision", factory=list)
    min_top1_agreement: float = param(0.99, "guard: least top-1 agreement with fp32 (applied only when the fp32 "
                                            "top-1 varies across the held-out inputs)")
    min_cosine: float = param(0.99, "guard: least cosine similarity with fp32, on every held-out sample")
    min_detection_agreement: float = param(0.9, "guard, detectors: least fraction of detections matched to "
                                                 "fp32's (same class, score within 0.05, IoU >= 0.5) per image")
    max_rel_err: float = param(0.2, "guard: largest relative L2 error |got - ref| / |ref| of any held-out sample "
                                    "(catches a scale drift cosine cannot see)")
    holdout: int = param(16, "held-out rows the guard checks on (never calibration rows)")
    seed: int = param(0, "seed of random calibration and hold-out rows")
