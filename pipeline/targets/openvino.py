"""`openvino`: the exported ONNX compiled by OpenVINO for the host CPU.

OpenVINO reads the same ONNX file the onnxruntime target serves and was the fastest CPU runtime
measured for this project (issue 10). Compiled with the LATENCY performance hint (one stream,
all cores on one request, the batch-1 serving case). Options, beside those of every ONNX
target (`threads`, `export_dir`, `opset`):

- `precision: f32 | bf16`, sent as INFERENCE_PRECISION_HINT and always set explicitly: on
  CPUs with AMX OpenVINO's CPU default is bf16, so leaving it out would change numerics
  silently. bf16 is refused (OVN101) when the CPU does not list BF16 in its
  OPTIMIZATION_CAPABILITIES, rather than falling back to f32, and the compiled model is asked
  which precision it actually took (OVN102 if not the requested one).

A bundle the quantize stage made for openvino is served as it asks (pipeline/model/quantized.py):
an `onnx-qdq` bundle's int8 QDQ file instead of a fresh export, an `openvino-ir` bundle's NNCF
IR, and an `openvino-bf16` or int8+bf16 bundle with precision bf16 (an explicit `precision: f32`
then conflicts: OVN104).

`supported_ops()` is the exporter's set (a classmethod has no model to ask); with a bundle,
`supported_ops_for(bundle)` asks OpenVINO itself through `Core.query_model` on the export.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import TargetError
from pipeline.core.runtime_errors import runtime_call
from pipeline.onnx.export import exportable_ops, export_bundle
from pipeline.targets.base import register_target
from pipeline.targets.onnx_base import ONNX_FILE, ExportedOnnxTarget
from pipeline.core.packages import importable

PRECISIONS = ("f32", "bf16")
_STRUCTURAL = frozenset({"Parameter", "Result", "Constant"})


def cpu_capabilities(core) -> frozenset[str]:
    """What the CPU plugin reports it can do (FP32, BF16, INT8, ...): the bf16 probe."""
    return frozenset(str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


@dataclass
class OpenVinoQuery:
    """Core.query_model's verdict mapped back to the MXNet graph."""

    unsupported: dict[str, list[str]] = field(default_factory=dict)  # MXNet op -> its node names
    unattributed: list[str] = field(default_factory=list)  # OpenVINO ops no MXNet node owns

    def supported_ops(self) -> frozenset[str]:
        return exportable_ops() - frozenset(self.unsupported)


def _owner(names: list[str], mx_nodes: dict[str, str]) -> str | None:
    """The MXNet node whose name prefixes one of `names` (the exporter names ONNX tensors so)."""
    best = None
    for name in names:
        for candidate in mx_nodes:
            if name.startswith(candidate) and (best is None or len(candidate) > len(best)):
                best = candidate
    return best


def read_openvino_model(core, path: Path):
    """core.read_model, with OpenVINO's reader failures (an ONNX op it lacks) as OVN103."""
    with runtime_call("openvino", f"to read {Path(path).name}", code="OVN103", where=str(path),
                      hint="deploy to onnxruntime, or replace the ops OpenVINO's ONNX reader lacks"):
        return core.read_model(str(path))


def query_onnx(bundle: ModelBundle, onnx_path: Path, core=None) -> OpenVinoQuery:
    """Which of the bundle's MXNet nodes OpenVINO's CPU plugin cannot run, after export."""
    import openvino as ov

    core = core or ov.Core()
    model = read_openvino_model(core, onnx_path)
    with runtime_call("openvino", "the CPU plugin's query of the model", code="OVN105", where=str(onnx_path)):
        supported = core.query_model(model, "CPU")
    mx_nodes = {n["name"]: n["op"] for n in bundle.graph()["nodes"] if n["op"] != "null"}
    result = OpenVinoQuery()
    for op in model.get_ops():
        if op.get_type_name() in _STRUCTURAL or op.get_friendly_name() in supported:
            continue
        names = [op.get_friendly_name()] + [n for out in op.outputs() for n in out.get_names()]
        owner = _owner(names, mx_nodes)
        if owner is None:
            result.unattributed.append(f"{op.get_type_name()} ({op.get_friendly_name()})")
        else:
            nodes = result.unsupported.setdefault(mx_nodes[owner], [])
            if owner not in nodes:
                nodes.append(owner)
    return result


MAX_COMPILED = 4  # compiled models kept per session, one per input shape seen (dynamic axes)


@register_target
class OpenVinoTarget(ExportedOnnxTarget):
    name = "openvino"
    summary = "ONNX export compiled by OpenVINO for the CPU (latency hint; f32 or bf16)"
    precisions = frozenset({"fp32", "bf16", "int8", "int8+bf16"})
    formats = frozenset({*ExportedOnnxTarget.formats, "openvino-ir", "openvino-bf16"})
    # fp32 is asked for explicitly: on a CPU with AMX OpenVINO's own default is bf16.
    tune = MappingProxyType({"fp32": {"precision": "f32"}, "bf16": {}, "int8": {}, "int8+bf16": {}})
    option_types = {
        **ExportedOnnxTarget.option_types,
        "precision": (str, "f32", lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    }

    @classmethod
    def is_available(cls) -> bool:
        return importable("openvino")

    @classmethod
    def version(cls) -> str:
        import openvino

        return openvino.__version__

    @classmethod
    def supported_ops_for(cls, bundle: ModelBundle) -> frozenset[str]:
        """The exportable MXNet ops minus those OpenVINO refuses in this bundle's export."""
        folder = tempfile.mkdtemp(prefix="mxdeploy-openvino-query-")
        try:
            path = export_bundle(bundle, Path(folder) / ONNX_FILE)
            return query_onnx(bundle, path).supported_ops()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _open(self, path: Path) -> None:
        import openvino as ov

        core = ov.Core()
        precision = self._precision()
        if precision == "bf16" and "BF16" not in cpu_capabilities(core):
            raise TargetError("precision bf16 was requested but this CPU has no bf16 support "
                              f"(OpenVINO reports: {', '.join(sorted(cpu_capabilities(core)))})",
                              code="OVN101", where="precision",
                              hint="use precision: f32 here, or deploy on a CPU with AVX512_BF16 or AMX")
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
        if self.option("threads"):
            config["INFERENCE_NUM_THREADS"] = self.option("threads")
        self._core, self._config, self._path, self._by_shape, self._shapes = core, config, path, {}, None
        self._compiled, self._request = self._compile(
            {s.name: tuple(s.shape) for s in self.bundle.inputs} if self.bundle is not None else {})

    def _compile(self, shapes: dict[str, tuple[int, ...]]):
        """(compiled model, infer request) for these input shapes, compiled once per shape.

        An export with `dynamic` axes is reshaped to the fed shape before compiling: OpenVINO
        2026.4's CPU plugin refuses to compile the dynamic BERT-family graphs ("get_partial_shape()
        .same_scheme(value.get_shape())" failed) and compiles each static shape of them, like
        the MXNet targets rebind per shape. A static export is compiled as it is.
        """
        key = tuple(sorted(shapes.items()))
        if key in self._by_shape:
            return self._by_shape[key]
        model = read_openvino_model(self._core, self._path)
        with runtime_call("openvino", f"to compile {Path(self._path).name} for the CPU", code="OVN105",
                          where=str(self._path), nodes=self._node_names()):
            if any(inp.get_partial_shape().is_dynamic for inp in model.inputs) and shapes:
                model.reshape({inp.get_any_name(): shapes[inp.get_any_name()] for inp in model.inputs
                               if inp.get_any_name() in shapes})
            compiled = self._core.compile_model(model, "CPU", self._config)
        took = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        precision = self._config["INFERENCE_PRECISION_HINT"]
        if took != precision:
            raise TargetError(f"OpenVINO compiled for {took} although {precision} was requested",
                              code="OVN102", where="precision", hint="use precision: f32")
        self._by_shape[key] = (compiled, compiled.create_infer_request())
        while len(self._by_shape) > MAX_COMPILED:
            self._by_shape.pop(next(iter(self._by_shape)))
        return self._by_shape[key]

    def _precision(self) -> str:
        """The `precision` option, or bf16 when the quantize stage asked for it on the bundle
        (format `openvino-bf16`, or an int8+bf16 IR whose float part is bf16); an explicit f32
        then conflicts."""
        rec = quantized.record(self.bundle.metadata) if self.bundle is not None else None
        if rec is None or not (rec.get("format") == "openvino-bf16" or rec.get("float_precision") == "bf16"):
            return self.option("precision")
        if self.options.get("precision", "bf16") != "bf16":
            raise TargetError("the bundle was quantized to bf16 for openvino, but precision f32 was requested",
                              code="OVN104", where="precision",
                              hint="drop the precision option, or remove the quantize stage")
        return "bf16"

    def _run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        shapes = tuple(a.shape for a in feed.values())  # the feed's order is the target's (_dtypes)
        if shapes != self._shapes:
            self._compiled, self._request = self._compile({n: tuple(a.shape) for n, a in feed.items()})
            self._shapes = shapes
        with runtime_call("openvino", "inference", code="OVN106", feed=feed, nodes=self._node_names()):
            # Shared both ways: the request reads the caller's arrays in place (the call is
            # synchronous) and lends its output buffers, which the next call overwrites, so they
            # are copied once below; the defaults copy the input, and the outputs twice.
            results = self._request.infer(feed, share_inputs=True, share_outputs=True)
        return [np.array(out, copy=True) for out in results.to_tuple()]  # in the model's output order

    def _close_runtime(self) -> None:
        self._request = None
        self._compiled = None
        self._by_shape = {}
        self._shapes = None
