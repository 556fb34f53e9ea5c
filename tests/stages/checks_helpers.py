"""Small bundles and subjects for the check-rule tests (imported by tests/stages/test_checks_*.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

import pipeline.targets.elastic_inference  # noqa: F401  (registers the accelerator sizes)
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.targets import TARGETS
from pipeline.checks import CheckSubject, RULES


@dataclass(frozen=True)
class DeployParams:
    """Stands in for the deploy stage's params (same field names) until that stage lands."""

    target: str = "eia1.medium"
    api: str = "symbol"
    for_training: bool = False
    grad_req: str = "null"
    contexts: list = field(default_factory=list)
    group2ctxs: dict = field(default_factory=dict)
    optimizer: Optional[str] = None
    threads: int = 1


def make_bundle(sym, shapes: dict, *, metadata: dict | None = None, dtype="float32",
                param_dtype="float32") -> ModelBundle:
    """A bundle of `sym` with random params for every non-input argument and aux state."""
    rng = np.random.default_rng(0)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    args = {n: rng.standard_normal(s).astype(param_dtype)
            for n, s in zip(sym.list_arguments(), arg_shapes) if n not in shapes and not n.endswith("label")}
    auxs = {n: np.ones(s, dtype=param_dtype) for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    inputs = [TensorSpec(n, tuple(s), dtype) for n, s in shapes.items()]
    meta = {"source": {"kind": "checkpoint"}, "mxnet_version": 10901}
    meta.update(metadata or {})
    return ModelBundle.from_symbol(sym, args, auxs, inputs, metadata=meta)


def subject(bundle, target: str = "eia1.medium", *, extra=(), planned=()) -> CheckSubject:
    return CheckSubject(bundle=bundle, target=TARGETS.get(target), extra_shapes=tuple(extra),
                        planned_stages=tuple(planned))


def run(rule_name: str, subj: CheckSubject) -> list[tuple[str, str, str]]:
    """(code, severity, node) of what one registered rule reports."""
    return [(d.code, d.severity, d.node) for d in RULES.get(rule_name)(subj)]


def conv_net(classes: int = 10):
    """data -> conv -> relu -> pool -> fc: small, all ops supported everywhere."""
    import mxnet as mx

    x = mx.sym.var("data")
    x = mx.sym.Convolution(x, kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv0")
    x = mx.sym.Activation(x, act_type="relu", name="relu0")
    x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool0")
    return mx.sym.FullyConnected(x, num_hidden=classes, name="fc0")


SMALL = {"data": (1, 3, 16, 16)}
