"""`MODEL[@TARGET]` -> a tappable side: which runtime executes which representation.

MODEL is whatever `pipeline.model.resolve.load_model` accepts. The default target is MXNet's
`cpu` executor for MXNet models, ONNX Runtime for an `.onnx` file, and the target a quantized
bundle was made for. An MXNet model on onnxruntime/openvino runs its export (with the node map
the exporter records); an `.onnx` file on cpu runs our importer's MXNet graph (with the
importer's node map). Targets that cannot be tapped (the accelerator sizes) are refused.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.localize import errors
from pipeline.localize.errors import LocalizeError
from pipeline.localize.mxnet_side import MXNetSide
from pipeline.localize.onnx_side import RUNTIMES, OnnxSide

MXNET_TARGETS = ("cpu", "onednn")
TARGETS = MXNET_TARGETS + RUNTIMES


def split_spec(text: str) -> tuple[str, str | None]:
    """`model.onnx@openvino` -> ('model.onnx', 'openvino'); an '@' inside a folder name is kept."""
    model, sep, target = text.rpartition("@")
    if not sep or "/" in target or not model:
        return text, None
    return model, target


def open_side(text: str, inputs=None):
    """The side `text` names, with `inputs` (TensorSpec list) overriding declared shapes."""
    spec, target = split_spec(text)
    if target is not None and target not in TARGETS:
        from pipeline.core.registry import did_you_mean

        raise LocalizeError(f"unknown target '{target}' in '{text}'{did_you_mean(target, list(TARGETS))}",
                            code=errors.UNKNOWN_TARGET, where=text,
                            hint=f"compare runs on: {', '.join(TARGETS)} (accelerator sizes cannot be tapped)")
    if spec.endswith(".onnx") and not (Path(spec) / "bundle.json").is_file():
        return _onnx_file_side(spec, target or "onnxruntime", inputs)
    from pipeline.model import quantized
    from pipeline.model.resolve import load_model

    bundle = load_model(spec, inputs or None)
    rec = quantized.record(bundle.metadata)
    target = target or (rec.get("target") if rec else None) or "cpu"
    return bundle_side(spec, target, bundle, base_dir=Path(spec).parent.parent)


def bundle_side(spec: str, target: str, bundle, *, base_dir: Path | None = None):
    """A bundle on `target`: bound by MXNet, or its ONNX (export or QDQ artifact) on a runtime."""
    from pipeline.model import quantized
    from pipeline.targets.build import check_servable

    if target in MXNET_TARGETS:
        check_servable(bundle.metadata, target)
        from pipeline.targets import TARGETS as REGISTRY

        # onednn serves its fused graph (OneDnnTarget.fused); cpu the bundle as it is
        cls = REGISTRY.get(target)
        served = cls.fused(bundle) if hasattr(cls, "fused") else bundle
        return MXNetSide(spec, target, served)
    if target not in RUNTIMES:
        raise LocalizeError(f"target '{target}' cannot be tapped", code=errors.UNKNOWN_TARGET, where=spec,
                            hint=f"compare on one of: {', '.join(TARGETS)}")
    rec = quantized.record(bundle.metadata)
    if rec is not None:
        check_servable(bundle.metadata, target)
    if rec is not None and rec.get("format") == "onnx-qdq":
        from pipeline.onnx.load import read_onnx

        model = read_onnx(quantized.artifact_path(bundle.metadata, base_dir))
    elif rec is not None and rec.get("format") in quantized.FILE_FORMATS:
        # an artifact that is not ONNX (NNCF's OpenVINO IR): no graph outputs can be added to it
        # here, and exporting the Symbol instead would compare the fp32 model under its name
        raise LocalizeError(f"a {rec['format']} bundle cannot be compared tensor by tensor", code=errors.UNTAPPABLE,
                            where=spec, hint="compare its fp32 source on the same target, or quantize for "
                                             "onnxruntime (an onnx-qdq file) to localize int8 drift")
    else:
        from pipeline.onnx.export import to_onnx

        model = to_onnx(bundle)
    return OnnxSide(spec, target, model, bundle.inputs, rec)


def _onnx_file_side(spec: str, target: str, inputs):
    shapes = {s.name: s.shape for s in inputs or []}
    if target in MXNET_TARGETS:
        from pipeline.onnx.load import load_onnx

        return bundle_side(spec, target, load_onnx(spec, shapes))
    from pipeline.onnx.importer.convert import declared_inputs
    from pipeline.onnx.importer.modelfile import tensor_value
    from pipeline.onnx.load import read_onnx

    model = read_onnx(spec)
    initializers = {t.name: tensor_value(t, t.name) for t in model.graph.initializer}
    return OnnxSide(spec, target, model, declared_inputs(model.graph, initializers, shapes))


def check_same_inputs(a, b) -> None:
    """Both sides must take the same inputs (name, shape, dtype) to run on one feed (LOC002)."""
    def shown(side):
        return ", ".join(f"{s.name}{list(s.shape)}:{s.dtype}" for s in side.inputs)

    if sorted((s.name, tuple(s.shape), str(s.dtype)) for s in a.inputs) != \
            sorted((s.name, tuple(s.shape), str(s.dtype)) for s in b.inputs):
        raise LocalizeError(f"the models take different inputs: {a.describe()} takes {shown(a)}, "
                            f"{b.describe()} takes {shown(b)}", code=errors.DIFFERENT_INPUTS, where=b.describe(),
                            hint="compare two forms of the same model, and give the same --input shapes to both")
