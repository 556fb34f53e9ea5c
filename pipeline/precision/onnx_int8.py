"""int8 for onnxruntime: ONNX Runtime's static quantization of the exported ONNX.

The bundle is exported once (pipeline/onnx/export.py), its unnamed nodes are named after
their first output (the exporter leaves Conv and Gemm nodes unnamed, and `nodes_to_exclude`
matches by name), ONNX Runtime's pre-processing runs (shape inference and graph cleanup;
symbolic shape inference is skipped: the shapes are static, and it would need sympy), and
`quantize_static` writes a QDQ model: QuantizeLinear/DequantizeLinear pairs around int8
weights and activations, the format ONNX Runtime fuses into int8 kernels. Activations are
signed int8 (QInt8), as ONNX Runtime recommends for x86 CPUs with VNNI.

openvino's int8 is NNCF's (pipeline/precision/nncf_int8.py): OpenVINO fuses NNCF's placement
better, and OpenVINO 2026.4.1 segfaults compiling a QDQ densenet121 whose BatchNormalization or
Concat is quantized. An onnx-qdq file made here can still be served by openvino (it reads QDQ
as FakeQuantize); tests/stages/quantize/test_openvino_int8_ops.py keeps the crash in view.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from pipeline.core import atomic
from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle, sha256_file
from pipeline.core.errors import StageError
from pipeline.core.runtime_errors import runtime_call
from pipeline.onnx.export import export_bundle
from pipeline.onnx.node_names import name_nodes
from pipeline.precision.quantizers import QuantizeJob, record, register

QUANTIZED_FILE = "model-int8.onnx"
METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def op_types_to_quantize() -> list[str]:
    """ONNX Runtime's default op set (its QOperator and QDQ registries)."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return sorted(set(QLinearOpsRegistry) | set(QDQRegistry))


COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


def post_processing_nodes(model) -> list[str]:
    """Nodes past the model's last compute op (no Conv/MatMul/Gemm downstream of them, and not one
    themselves): a detector's box decoding, score sort and NMS, a classifier's softmax. Kept in
    float: int8 gains nothing there, and quantized box coordinates (hundreds of pixels on one
    scale with sub-pixel offsets) wrecked every SSD detection (matched fraction 0.0)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    feeds_compute: set[str] = set()
    stack = [n for n in model.graph.node if n.op_type in COMPUTE_OPS]
    while stack:
        node = stack.pop()
        if node.name in feeds_compute:
            continue
        feeds_compute.add(node.name)
        stack.extend(producers[i] for i in node.input if i in producers)
    return [n.name for n in model.graph.node if n.name not in feeds_compute]


class _Reader:
    """ONNX Runtime's CalibrationDataReader protocol over our calibration feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)

    def rewind(self):  # noqa: D401  (part of the protocol; calibration reads the data once)
        pass


def excluded_onnx_nodes(model, exclude: tuple[str, ...]) -> list[str]:
    """The ONNX nodes made from the excluded MXNet nodes (their names start with it); QNT108 for
    an MXNet name nothing matches, so a typo does not silently quantize the node."""
    names = [n.name for n in model.graph.node]
    out = []
    for mx_name in exclude:
        matched = [n for n in names if n == mx_name or n.startswith(mx_name)]
        if not matched:
            from pipeline.core.registry import did_you_mean

            raise StageError(f"exclude_nodes names '{mx_name}', which is not in the exported graph"
                             f"{did_you_mean(mx_name, names)}", where=mx_name, code="QNT108",
                             hint="use the MXNet node names of the bundle (model-symbol.json)")
        out.extend(matched)
    return out


QUANTIZER_HINT = ("exclude the node it names (exclude_nodes), quantize for cpu or onednn instead, or deploy fp32; "
                  "the quantizer's full text is in the log")


@register("int8", "onnxruntime", format="onnx-qdq", label="ONNX Runtime's static quantization")
def quantize_onnx_int8(job: QuantizeJob) -> ModelBundle:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    p = job.params
    out_path = job.stage_dir / QUANTIZED_FILE
    with tempfile.TemporaryDirectory(prefix="mxdeploy-quantize-") as tmp:
        exported = export_bundle(job.bundle, Path(tmp) / "model.onnx")
        model = onnx.load(str(exported))
        name_nodes(model)
        excluded = excluded_onnx_nodes(model, tuple(p.exclude_nodes)) + post_processing_nodes(model)
        named = Path(tmp) / "named.onnx"
        onnx.save(model, str(named))
        prepared = Path(tmp) / "prepared.onnx"
        with runtime_call("onnxruntime", "the quantizer's pre-processing (quant_pre_process)", code="QNT114",
                          error=StageError, hint=QUANTIZER_HINT):
            quant_pre_process(str(named), str(prepared), skip_symbolic_shape=True)
        staged = Path(tmp) / QUANTIZED_FILE
        # ONNX Runtime's histogram calibrators print progress to stdout, which would corrupt
        # `pipeline tune --json`; what they say is not needed.
        with contextlib.redirect_stdout(io.StringIO()), \
                runtime_call("onnxruntime", "static int8 quantization (quantize_static)", code="QNT114",
                             error=StageError, hint=QUANTIZER_HINT):
            quantize_static(str(prepared), str(staged), _Reader(job.calibration), quant_format=QuantFormat.QDQ,
                            per_channel=p.per_channel, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=excluded,
                            op_types_to_quantize=op_types_to_quantize(),
                            calibrate_method=getattr(CalibrationMethod, METHODS[p.method]))
        with atomic.atomic_path(out_path) as tmp_out:
            shutil.copyfile(staged, tmp_out)  # /tmp may be another filesystem: no rename
    rel = os.path.relpath(out_path, job.run_dir)
    meta = {**job.bundle.metadata,
            quantized.KEY: record(job, "onnx-qdq", path=rel, sha256=sha256_file(out_path))}
    return job.bundle.evolve(stage="quantize", details={"precision": "int8", "format": "onnx-qdq"}, metadata=meta)
