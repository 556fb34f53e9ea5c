"""bf16 for openvino: OpenVINO's own conversion, asked for with its precision hint.

OpenVINO converts to bf16 when compiling (INFERENCE_PRECISION_HINT=bf16) and keeps the ops it
judges sensitive in f32, so the bundle only carries the hint (format `openvino-bf16`); the
openvino target reads it (pipeline/targets/openvino.py).

Without native bf16 (AVX512_BF16 or AMX) the stage refuses (QNT103) rather than produce a
model that would be emulated, slower than f32, or silently compiled in f32.

bf16 for cpu and onednn is MXNet's AMP instead (pipeline/precision/mxnet_bf16.py).
"""
from __future__ import annotations

from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import StageError
from pipeline.precision.quantizers import QuantizeJob, record, register, require_bf16


@register("bf16", "openvino", format="openvino-bf16", label="OpenVINO's bf16 hint")
def hint_openvino_bf16(job: QuantizeJob) -> ModelBundle:
    require_bf16()
    if job.params.exclude_nodes:
        raise StageError("exclude_nodes is not supported for openvino bf16: OpenVINO picks the f32 ops itself",
                         code="QNT108", where="exclude_nodes", hint="remove exclude_nodes, or quantize to int8")
    meta = {**job.bundle.metadata, "quantized": record(job, "openvino-bf16")}
    return job.bundle.evolve(stage="quantize", details={"precision": "bf16", "format": "openvino-bf16"},
                             metadata=meta)
