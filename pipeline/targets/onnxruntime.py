"""`onnxruntime`: the bundle exported to ONNX and served by ONNX Runtime on the CPU.

ONNX Runtime is the independent reference implementation of ONNX. The session runs with every
graph optimization (ORT_ENABLE_ALL: constant folding, Conv+BatchNorm/Add/Relu fusion, layout
transforms), which only applies because the export keeps initializers out of the graph inputs.
Options: `threads` (intra-op threads; 0 = ONNX Runtime's default, one per core), `export_dir`
(keep the ONNX file there instead of a temp folder), `opset` (default 13).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import MappingProxyType

import numpy as np

from pipeline.core.runtime_errors import runtime_call
from pipeline.core import atomic
from pipeline.core.diagnostics import Diagnostic
from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle
from pipeline.onnx.export import to_onnx
from pipeline.onnx.transformer_fusion import fuse_transformer, is_transformer, optimize_with_onnxruntime
from pipeline.targets.base import register_target
from pipeline.targets.onnx_base import ONNX_FILE, ExportedOnnxTarget


@register_target
class OnnxRuntimeTarget(ExportedOnnxTarget):
    name = "onnxruntime"
    summary = "ONNX export (opset 13, weights as constants) run by ONNX Runtime, CPUExecutionProvider"
    tune = MappingProxyType({"fp32": {}, "int8": {}})

    @classmethod
    def is_available(cls) -> bool:
        return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None

    @classmethod
    def version(cls) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def _model_file(self, bundle: ModelBundle, folder: Path) -> Path:
        """A transformer's export goes through the attention fusion (pipeline/onnx/transformer_fusion.py)
        so ONNX Runtime runs its fused Attention and LayerNorm kernels; anything else as exported."""
        if quantized.record(bundle.metadata) is not None or not is_transformer(bundle):
            return super()._model_file(bundle, folder)
        model = to_onnx(bundle, opset=self.option("opset"), clip_indices=self.option("clip_indices"))
        fused, report = fuse_transformer(model, bundle)
        with runtime_call("onnxruntime", "the transformer optimizer", code="ORT103"):
            fused = optimize_with_onnxruntime(fused, report.num_heads, report.hidden_size, report)
        self.deploy_metrics.update(report.metrics())
        if report.unfused_attention:
            self.deploy_diagnostics.append(Diagnostic(
                "ORT104", "warning", f"{len(report.unfused_attention)} attention block(s) were not fused for ONNX "
                f"Runtime (first: {report.unfused_attention[0]}); they run as exported, slower",
                node=report.unfused_attention[0],
                hint="the block differs from GluonNLP's interleaved self-attention; see docs/targets.md"))
        path = folder / ONNX_FILE
        atomic.write_bytes(path, fused.SerializeToString())
        return path

    def _open(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.option("threads")
        options.log_severity_level = 3  # errors only: its warnings are not ours to print; refusals are raised
        with runtime_call("onnxruntime", f"the session for {path.name}", code="ORT101", where=str(path),
                          nodes=self._node_names()):
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        with runtime_call("onnxruntime", "inference", code="ORT102", feed=feed, nodes=self._node_names()):
            return self._session.run(None, feed)

    def _close_runtime(self) -> None:
        self._session = None
