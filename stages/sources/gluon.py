"""`gluon` source: a model zoo network or a factory's HybridBlock, hybridized and exported.

The Elastic Inference guide served Gluon models only after `hybridize()` + `export()`, so that
is the import. The block's initialized weights are kept beside the bundle
(`reference.params`): the `gluon` reference rebuilds the same block from them and runs it
imperatively, un-hybridized, which is the independent baseline every later stage (passes,
quantization, another target) is verified against.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from pipeline.core import atomic
from pipeline.model.bundle import ModelBundle, graph_mxnet_version
from pipeline.core.errors import SourceError
from pipeline.core.paramspec import ParamIssue, param
from pipeline.model.references import Reference, register_reference
from pipeline.model import input_casts, zoos
from pipeline.model.resolve import build_block, default_zoo_inputs, export_block, is_factory_spec
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage

REFERENCE_PARAMS = "reference.params"


@dataclass(frozen=True)
class GluonParams:
    model: Optional[str] = param(None, "a model zoo name (MXNet vision, GluonCV, GluonNLP), e.g. resnet50_v1 "
                                       "(random weights, nothing downloaded)")
    kwargs: dict[str, Any] = param(help="keyword arguments for the zoo model or the factory", factory=dict)
    factory: Optional[str] = param(None, "pkg.module:callable returning a HybridBlock, imported from the "
                                         "pipelines file's folder", path="module")
    params: Optional[str] = param(None, "a .params file (save_parameters) to load into the block", path="file")
    seed: int = param(0, "seed for the random initialization of weights not loaded from params")


@register_stage
class GluonSource(Stage):
    name = "gluon"
    kind = "source"
    summary = "import a Gluon model (zoo name or factory): hybridize, export to Symbol"
    Params = GluonParams

    @classmethod
    def check_params(cls, params: GluonParams) -> list[ParamIssue]:
        if (params.model is None) == (params.factory is None):
            return [ParamIssue((), "give exactly one of 'model' (a zoo name) or 'factory' (pkg.module:callable)")]
        if params.factory is not None and not is_factory_spec(params.factory):
            return [ParamIssue(("factory",), f"expected pkg.module:callable, got '{params.factory}'")]
        if params.model is not None:
            from pipeline.model.resolve import zoo_names
            from pipeline.core.registry import did_you_mean

            names = zoo_names()
            if params.model not in names:
                return [ParamIssue(("model",), f"unknown model zoo name '{params.model}'"
                                               f"{did_you_mean(params.model, names)}")]
        return []

    def run(self, bundle, params: GluonParams, ctx: RunContext) -> tuple[ModelBundle, StageResult]:
        user_params = ctx.resolve(params.params) if params.params else None
        if user_params is not None and not user_params.is_file():
            raise SourceError("params file not found", where=str(user_params), code="SRC105",
                              hint="give a path relative to the pipelines file")
        inputs = list(ctx.inputs)
        if not inputs:
            if params.model is None:
                raise SourceError(f"factory '{params.factory}' needs its inputs declared", where=params.factory,
                                  code="SRC104", hint="add inputs: {data: {shape: [N, C, H, W]}} to the pipeline")
            inputs = default_zoo_inputs(params.model, params.kwargs)
        block = build_block(model=params.model, factory=params.factory, kwargs=params.kwargs,
                            config_dir=ctx.config_dir, params=user_params, seed=params.seed)
        init = zoos.find_zoo(params.model).calibrate(params.model, block, inputs, params.seed) \
            if params.model and user_params is None else None
        with tempfile.TemporaryDirectory() as tmp:
            out = export_block(block, inputs, Path(tmp))
        ctx.stage_dir.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(ctx.stage_dir / REFERENCE_PARAMS) as tmp_path:
            block.save_parameters(str(tmp_path))
        origin = {"model": params.model} if params.model else {"factory": params.factory,
                                                                "config_dir": str(Path(ctx.config_dir).resolve())}
        source = {"kind": "gluon", **origin, "kwargs": dict(params.kwargs), "seed": params.seed,
                  "params": str(user_params.resolve()) if user_params else None}
        if params.model:
            zoo = zoos.find_zoo(params.model)
            source.update(zoo=zoo.name, family=zoo.family(params.model))
        if init:
            source["init"] = init
        out.metadata.update({
            "source": source,
            "mxnet_version": graph_mxnet_version(out.symbol_json),
            "reference": {"kind": "gluon", **origin, "kwargs": dict(params.kwargs),
                          "inputs": [spec.name for spec in inputs],
                          "params": os.path.relpath(ctx.stage_dir / REFERENCE_PARAMS, ctx.run_dir)},
        })
        if out.metadata.get(input_casts.METADATA_KEY):  # the block computes on these in another dtype
            out.metadata["reference"]["casts"] = dict(out.metadata[input_casts.METADATA_KEY])
        out.history.append({"stage": "gluon", "block": type(block).__name__, **origin})
        metrics = {"nodes": out.node_count(), "params_bytes": out.params_bytes()}
        return out, StageResult(metrics=metrics, artifacts={"reference_params": REFERENCE_PARAMS})


@register_reference
class GluonReference(Reference):
    """The block rebuilt from its spec with the saved weights, run imperatively (not hybridized)."""

    kind = "gluon"

    def __init__(self, spec: dict, run_dir: Path):
        super().__init__(spec, run_dir)
        config_dir = spec.get("config_dir")
        self.block = build_block(model=spec.get("model"), factory=spec.get("factory"), kwargs=spec.get("kwargs"),
                                 config_dir=Path(config_dir) if config_dir else None,
                                 params=self.run_dir / spec["params"])

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        import mxnet as mx

        names = self.spec.get("inputs") or list(feed)  # the block's forward arguments, in order
        casts = self.spec.get("casts") or {}  # inputs the block computes on in another dtype (the export's Cast)
        args = [mx.nd.array(feed[name], dtype=casts.get(name, feed[name].dtype)) for name in names]
        out = self.block(*args)
        return [o.asnumpy() for o in _flatten(out)]


def _flatten(out) -> list:
    """A block may return one NDArray or a (nested) tuple/list of them, in output order."""
    if isinstance(out, (list, tuple)):
        return [leaf for item in out for leaf in _flatten(item)]
    return [out]
