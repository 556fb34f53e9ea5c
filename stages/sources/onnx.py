"""The `onnx` source stage: an ONNX file imported by our converter registry into a bundle.

The pipeline's `inputs:` give the static shapes the model is converted for (dynamic ONNX
dimensions need one); the bundle's reference is the file itself under ONNX Runtime.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.diagnostics import Diagnostic
from pipeline.core.paramspec import param
from pipeline.core.stage import Stage, StageResult, register_stage


@dataclass(frozen=True)
class OnnxSourceParams:
    path: str = param(help="the .onnx file (relative paths resolve against the pipelines file's folder)", path="file")


@register_stage
class OnnxSource(Stage):
    name = "onnx"
    kind = "source"
    summary = "import an ONNX model (opsets 7-23) with mxdeploy's own converter registry"
    Params = OnnxSourceParams

    def run(self, bundle, params, ctx):
        from pipeline.onnx.load import load_onnx

        path = ctx.resolve(params.path)
        out = load_onnx(path, {s.name: tuple(s.shape) for s in ctx.inputs})
        info = out.metadata.get("onnx", {})
        diagnostics = []
        if info.get("note"):
            diagnostics.append(Diagnostic("ONNX201", "warning", info["note"],
                                          hint="ranks were taken from MXNet's shape inference instead"))
        declared = {s.name: s.dtype for s in ctx.inputs}
        for spec in out.inputs:
            if spec.name in declared and declared[spec.name] != spec.dtype:
                diagnostics.append(Diagnostic("ONNX202", "info",
                                              f"input '{spec.name}' is {spec.dtype} in the model; the declared "
                                              f"{declared[spec.name]} is ignored", node=spec.name,
                                              hint=f"declare dtype: {spec.dtype}"))
        metrics = {"nodes": out.history[-1].get("nodes", 0), "mxnet_nodes": out.node_count(),
                   "params_bytes": out.params_bytes(), "opsets": info.get("opsets", {})}
        return out, StageResult(metrics=metrics, diagnostics=diagnostics)
