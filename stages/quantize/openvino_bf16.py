"""bf16 for openvino: OpenVINO's own conversion, asked for with its precision hint.

OpenVINO converts to bf16 when compiling (INFERENCE_PRECISION_HINT=bf16) and keeps the ops it
judges sensitive in f32, so the bundle only carries the hint (format `openvino-bf16`); the
openvino target reads it (pipeline/targets/openvino.py).

Without native bf16 (AVX512_BF16 or AMX) the stage refuses (QNT103) rather than produce a
model that would be emulated, slower than f32, or silently compiled in f32.

There is no bf16 quantizer for onednn yet: MXNet's AMP does convert the unfused graph
(measured 1.9x faster on resnet50_v1), but its bf16 weights have no numpy form for the bundle
to carry; docs/quantize.md has the measurements and what is left.
"""
from __future__ import annotations

from pipeline import cpuflags
from pipeline.bundle import ModelBundle
from pipeline.errors import StageError
from stages.quantize.backends import QuantizeJob, record, register


def require_bf16() -> None:
    if not cpuflags.has_bf16():
        raise StageError(f"precision bf16 needs a CPU with native bf16 ({' or '.join(cpuflags.BF16_FLAGS)}); "
                         f"this one ({cpuflags.cpu_model()}) has neither", code="QNT103", where="precision",
                         hint="use precision: int8, or deploy on a CPU with AVX512_BF16 or AMX")


@register("bf16", "openvino")
def hint_openvino_bf16(job: QuantizeJob) -> ModelBundle:
    require_bf16()
    if job.params.exclude_nodes:
        raise StageError("exclude_nodes is not supported for openvino bf16: OpenVINO picks the f32 ops itself",
                         code="QNT108", where="exclude_nodes", hint="remove exclude_nodes, or quantize to int8")
    meta = {**job.bundle.metadata, "quantized": record(job, "openvino-bf16")}
    return job.bundle.evolve(stage="quantize", details={"precision": "bf16", "format": "openvino-bf16"},
                             metadata=meta)
