"""Turn a MODEL argument (zoo name, checkpoint prefix or .onnx file) into a ModelBundle.

Used by the commands that take a model directly (`check`, `convert`, `tune`); pipelines use
the source stages, which share these loaders.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from pipeline.bundle import ModelBundle, TensorSpec, graph_mxnet_version
from pipeline.errors import ModelError, UsageError

_INPUT_ARG = re.compile(r"^([A-Za-z_][\w.\-]*)=(\d+(?:,\d+)*)$")


def parse_input_arg(text: str) -> TensorSpec:
    """`data=1,3,224,224` -> TensorSpec('data', (1, 3, 224, 224))."""
    match = _INPUT_ARG.match(text.strip())
    if not match:
        raise UsageError(f"bad --input '{text}'", where="--input",
                         hint="write NAME=D1,D2,... with positive integers, e.g. data=1,3,224,224")
    dims = tuple(int(d) for d in match.group(2).split(","))
    if any(d <= 0 for d in dims):
        raise UsageError(f"bad --input '{text}': dimensions must be positive", where="--input",
                         hint="write NAME=D1,D2,... with positive integers")
    return TensorSpec(match.group(1), dims)


def zoo_names() -> list[str]:
    """The vision zoo's own name table, the one `get_model` reads.

    MXNet 2.x keeps it at module level (`vision._models`); MXNet 1.9.1 builds it inside
    `get_model` and only shows it in the ValueError for an unknown name, so it is read there.
    """
    from mxnet.gluon.model_zoo import vision

    table = getattr(vision, "_models", None)
    if table is not None:
        return sorted(table)
    try:
        vision.get_model("")
    except ValueError as exc:
        listed = str(exc).split("Available options are", 1)[1]
        return sorted(line.strip() for line in listed.splitlines() if line.strip())
    raise ModelError("the model zoo accepted an empty name", hint="unsupported MXNet version")


def default_zoo_inputs(name: str) -> list[TensorSpec]:
    """Inception v3 takes 299x299; every other vision zoo model 224x224."""
    side = 299 if name.startswith("inception") else 224
    return [TensorSpec("data", (1, 3, side, side))]


def export_block(block, inputs: list[TensorSpec], folder: Path) -> ModelBundle:
    """Hybridize, run once on the declared inputs and export `block` to a bundle (no metadata)."""
    import mxnet as mx
    import numpy as np

    block.hybridize(static_alloc=False)
    args = [mx.nd.zeros(s.shape, dtype=np.dtype(s.dtype)) for s in inputs]
    block(*args)
    prefix = Path(folder) / "export"
    block.export(str(prefix), epoch=0)
    sym, arg_params, aux_params = mx.model.load_checkpoint(str(prefix), 0)
    # Gluon names the exported inputs data / data0, data1, ... ; rename to the declared names.
    exported = [n for n in sym.list_arguments() if n not in arg_params]
    if len(exported) != len(inputs):
        raise ModelError(f"the exported graph has inputs {exported}, but {len(inputs)} were declared",
                         hint="declare one input per argument of the block's forward")
    if exported != [s.name for s in inputs]:
        graph = json.loads(sym.tojson())
        renames = dict(zip(exported, (s.name for s in inputs)))
        for node in graph["nodes"]:
            if node["op"] == "null" and node["name"] in renames:
                node["name"] = renames[node["name"]]
        sym = mx.sym.load_json(json.dumps(graph))
    return ModelBundle.from_symbol(sym, arg_params, aux_params, inputs)


def zoo_block(name: str, kwargs: dict | None = None, seed: int = 0):
    """A vision zoo model with random weights (nothing is downloaded), seeded for reproducibility."""
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    names = zoo_names()
    if name not in names:
        from pipeline.registry import did_you_mean

        raise ModelError(f"unknown model zoo name '{name}'{did_you_mean(name, names)}",
                         hint="see mxnet.gluon.model_zoo.vision for the names")
    mx.random.seed(seed)
    block = vision.get_model(name, pretrained=False, **(kwargs or {}))
    block.initialize(mx.init.Xavier(magnitude=2.0))
    return block


def load_model(spec: str, inputs: list[TensorSpec] | None = None, *, seed: int = 0) -> ModelBundle:
    """A bundle from a zoo name, a checkpoint prefix (PREFIX-symbol.json) or an .onnx file."""
    path = Path(spec)
    if spec.endswith(".onnx"):
        from stages.importers.onnx import import_onnx

        return import_onnx(path, {s.name: s.shape for s in inputs or []})
    if Path(f"{spec}-symbol.json").is_file():
        return load_checkpoint(spec, 0, inputs or [])
    if spec in zoo_names():
        inputs = inputs or default_zoo_inputs(spec)
        with tempfile.TemporaryDirectory() as tmp:
            bundle = export_block(zoo_block(spec, seed=seed), inputs, Path(tmp))
        bundle.metadata.update({"source": {"kind": "gluon", "model": spec},
                                "mxnet_version": graph_mxnet_version(bundle.symbol_json)})
        return bundle
    raise UsageError(f"'{spec}' is not a zoo name, a checkpoint prefix or an .onnx file",
                     where=spec, hint="give a model zoo name (resnet18_v1), PREFIX for PREFIX-symbol.json, or X.onnx")


def load_checkpoint(prefix: str, epoch: int, inputs: list[TensorSpec]) -> ModelBundle:
    """Load PREFIX-symbol.json + PREFIX-EPOCH.params; legacy graphs go through MXNet's upgrader."""
    import mxnet as mx

    sym_path = Path(f"{prefix}-symbol.json")
    params_path = Path(f"{prefix}-{epoch:04d}.params")
    for p in (sym_path, params_path):
        if not p.is_file():
            raise ModelError(f"checkpoint file not found", where=str(p),
                             hint="give the prefix without -symbol.json and the right epoch")
    raw = sym_path.read_text("utf-8")
    saved_version = graph_mxnet_version(raw)
    sym = mx.sym.load(str(sym_path))
    loaded = mx.nd.load(str(params_path))
    arg_params = {k[4:]: v for k, v in loaded.items() if k.startswith("arg:")}
    aux_params = {k[4:]: v for k, v in loaded.items() if k.startswith("aux:")}
    if not inputs:
        free = [n for n in sym.list_arguments() if n not in arg_params]
        raise UsageError(f"checkpoint '{prefix}' needs input shapes for {', '.join(free)}",
                         where=str(sym_path), hint="pass --input NAME=D1,D2,... for each")
    bundle = ModelBundle.from_symbol(sym, arg_params, aux_params, inputs)
    bundle.metadata.update({"source": {"kind": "checkpoint", "prefix": str(Path(prefix).resolve()), "epoch": epoch},
                            "mxnet_version": saved_version})
    if saved_version is None:
        bundle.history.append({"stage": "upgrade", "note": "legacy (pre-1.0) symbol JSON upgraded by MXNet"})
    return bundle
