"""The quantized-model contract between the quantize stage, the targets, deploy and verify.

The quantize stage records what it produced in `bundle.metadata["quantized"]`:

    {"precision": "int8" | "bf16" | "int8+bf16", "format": FORMAT, "target": the target it was
     made for, "method": ..., "path": run-dir-relative artifact (file formats), "sha256": ...,
     "float_precision": "bf16" (int8+bf16 only: what the ops left in float compute in)}

Formats (which targets serve each is declared on the targets: `Target.formats`,
pipeline/targets/base.py):

- `onnx-qdq`: an int8 QDQ ONNX file written by ONNX Runtime's static quantization. The
  bundle's Symbol stays the fp32 graph (MXNet cannot run QDQ); onnxruntime and openvino
  serve the file instead of exporting the Symbol again.
- `mxnet-int8`: the bundle's Symbol and params *are* the int8 model (MXNet's oneDNN
  quantization); cpu and onednn bind it.
- `mxnet-bf16`: the bundle's Symbol and params *are* the bf16 model (MXNet's AMP); its bf16
  params are stored widened to float32 and narrowed at bind (pipeline/model/bf16.py); cpu and
  onednn bind it.
- `openvino-ir`: an int8 OpenVINO IR (.xml + .bin) written by NNCF; openvino serves it, with
  the bf16 precision hint when the record's `float_precision` is bf16 (precision int8+bf16).
- `openvino-bf16`: the Symbol stays fp32; openvino compiles it with the bf16 precision hint.

Like the gluon reference's params, the artifact path is relative to the run directory (the
stage cache is keyed by location, so the path stays valid); callers that open a session pass
`base_dir` through `runtime_options`, which is never stored in the bundle.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.model.bundle import sha256_file
from pipeline.core.errors import TargetError

KEY = "quantized"
# format -> the precision its artifact computes in
FORMATS: dict[str, str] = {"onnx-qdq": "int8", "openvino-ir": "int8", "mxnet-int8": "int8", "mxnet-bf16": "bf16",
                           "openvino-bf16": "bf16"}
FILE_FORMATS = frozenset({"onnx-qdq", "openvino-ir"})


def record(metadata: dict) -> dict | None:
    """The bundle's quantization record, or None for a full-precision bundle."""
    return metadata.get(KEY) or None


def runtime_options(metadata: dict, run_dir: str | Path) -> dict:
    """Extra target options for opening a session on this bundle: where its artifact lives."""
    rec = record(metadata)
    if rec is not None and rec.get("format") in FILE_FORMATS:
        return {"base_dir": str(run_dir)}
    return {}


def artifact_path(metadata: dict, base_dir: str | Path | None) -> Path:
    """The quantized file, checked against the sha256 the stage recorded (QNT202, QNT203)."""
    rec = record(metadata) or {}
    if base_dir is None:
        raise TargetError("the bundle's quantized model lives in a run directory nobody named", code="QNT202",
                          hint="open the session through the deploy stage, or pass base_dir=<run dir>")
    path = Path(base_dir) / rec["path"]
    if not path.is_file():
        raise TargetError("the quantized model file is missing", code="QNT202", where=str(path),
                          hint="re-run the quantize stage")
    for companion, digest in (rec.get("companions") or {}).items():  # an IR's .bin beside its .xml
        other = path.with_name(companion)
        if not other.is_file() or sha256_file(other) != digest:
            raise TargetError("a file of the quantized model is missing or was changed after the quantize stage "
                              "wrote it (sha256 mismatch)", code="QNT203", where=str(other),
                              hint="re-run the quantize stage")
    if rec.get("sha256") and sha256_file(path) != rec["sha256"]:
        raise TargetError("the quantized model file was changed after the quantize stage wrote it (sha256 "
                          "mismatch)", code="QNT203", where=str(path), hint="re-run the quantize stage")
    return path
