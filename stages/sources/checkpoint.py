"""`checkpoint` source: an MXNet checkpoint (PREFIX-symbol.json + PREFIX-EPOCH.params).

This is how the Elastic Inference guide's scripts loaded ResNet-50 and ResNet-152
(`mx.model.load_checkpoint`). Its reference is the original checkpoint bound with MXNet's
plain executor, exactly as those scripts ran it on the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.core.paramspec import ParamIssue, param
from pipeline.model.references import Reference, register_reference
from pipeline.model.resolve import load_checkpoint
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage
from pipeline.targets.cpu import unfused_binds


@dataclass(frozen=True)
class CheckpointParams:
    prefix: str = param(help="checkpoint prefix: PREFIX-symbol.json and PREFIX-EPOCH.params", path="checkpoint")
    epoch: int = param(0, "which PREFIX-EPOCH.params to load")


@register_stage
class CheckpointSource(Stage):
    name = "checkpoint"
    kind = "source"
    summary = "import an MXNet checkpoint (symbol JSON + params); legacy JSON is upgraded"
    Params = CheckpointParams

    @classmethod
    def check_params(cls, params: CheckpointParams) -> list[ParamIssue]:
        issues = []
        if params.epoch < 0:
            issues.append(ParamIssue(("epoch",), f"expected a non-negative epoch, got {params.epoch}"))
        if params.prefix.endswith((".json", ".params")):
            issues.append(ParamIssue(("prefix",), f"give the prefix without -symbol.json / -NNNN.params, "
                                                  f"got '{params.prefix}'"))
        return issues

    def run(self, bundle, params: CheckpointParams, ctx: RunContext) -> tuple[ModelBundle, StageResult]:
        prefix = ctx.resolve(params.prefix).resolve()
        out = load_checkpoint(str(prefix), params.epoch, list(ctx.inputs))
        out.metadata["reference"] = {"kind": "checkpoint", "prefix": str(prefix), "epoch": params.epoch}
        out.history.append({"stage": "checkpoint", "prefix": str(prefix), "epoch": params.epoch})
        metrics = {"nodes": out.node_count(), "params_bytes": out.params_bytes(),
                   "upgraded": any(h.get("stage") == "upgrade" for h in out.history)}
        return out, StageResult(metrics=metrics)


@register_reference
class CheckpointReference(Reference):
    """The source checkpoint bound with `sym.bind` on the CPU; label inputs bound to zeros."""

    kind = "checkpoint"

    def __init__(self, spec: dict, run_dir: Path):
        from pipeline.model import params_file as params_loader
        from pipeline.model.symbol_json import load_symbol

        super().__init__(spec, run_dir)
        # the same validating loaders as the source stage: the files may have changed since
        prefix, epoch = spec["prefix"], spec["epoch"]
        self.symbol, _, _ = load_symbol(f"{prefix}-symbol.json")
        params_path = f"{prefix}-{epoch:04d}.params"
        params_loader.read_params_file(params_path)
        loaded = params_loader.load_arrays(params_path)
        self.arg_params = {k[4:]: v for k, v in loaded.items() if k.startswith("arg:")}
        self.aux_params = {k[4:]: v for k, v in loaded.items() if k.startswith("aux:")}
        self._exe = None
        self._shapes = None

    def _bind(self, feed: dict[str, np.ndarray]):
        import mxnet as mx

        from pipeline.model.labels import label_variables

        shapes = {name: value.shape for name, value in feed.items()}
        arg_shapes, _, _ = self.symbol.infer_shape(**shapes)
        labels = set(label_variables(self.symbol.tojson()))
        args = dict(self.arg_params)
        for name, shape in zip(self.symbol.list_arguments(), arg_shapes):
            if name in feed:
                args[name] = mx.nd.zeros(shape, dtype=feed[name].dtype)
            elif name in labels:
                args[name] = mx.nd.zeros(shape)
        with unfused_binds():
            self._exe = self.symbol.bind(ctx=mx.cpu(), args=args, aux_states=self.aux_params, grad_req="null")
        self._shapes = shapes

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        import mxnet as mx

        if self._exe is None or self._shapes != {n: v.shape for n, v in feed.items()}:
            self._bind(feed)
        self._exe.forward(is_train=False, **{n: mx.nd.array(v, dtype=v.dtype) for n, v in feed.items()})
        return [o.asnumpy() for o in self._exe.outputs]
