"""Test-only stage (MXDEPLOY_PLUGINS=localize_test_stages): corrupt one parameter of the bundle.

`t_corrupt_param: {weight: NAME, noise: 0.05, seed: 1}` adds seeded normal noise to one arg
param, as a faulty transform would; verify then fails against the source's reference, and its
automatic localization must name the node that reads that param (tests/localize/test_verify_localize.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.errors import StageError
from pipeline.core.paramspec import param
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage


@dataclass(frozen=True)
class CorruptParams:
    weight: str = param(help="name of the arg param to corrupt")
    noise: float = param(0.05, "standard deviation of the added noise")
    seed: int = param(1, "noise seed")


@register_stage
class CorruptParam(Stage):
    name = "t_corrupt_param"
    summary = "test stage: add seeded noise to one parameter (a faulty transform)"
    Params = CorruptParams

    def run(self, bundle, params: CorruptParams, ctx: RunContext):
        noise = lambda v: v + np.random.default_rng(params.seed).normal(0, params.noise, v.shape).astype(v.dtype)  # noqa: E731
        return _with_param(bundle, self.name, params.weight, noise), StageResult()


@dataclass(frozen=True)
class AddAtParams:
    weight: str = param(help="name of the arg param to change")
    index: list[int] = param(help="the element's index", factory=list)
    add: float = param(1.0, "what is added to that one element")


@register_stage
class AddAt(Stage):
    name = "t_add_at"
    summary = "test stage: add a value to one element of one parameter (a drift NMS may hide)"
    Params = AddAtParams

    def run(self, bundle, params: AddAtParams, ctx: RunContext):
        def add_at(value):
            value = value.copy()
            value[tuple(params.index)] += params.add
            return value

        return _with_param(bundle, self.name, params.weight, add_at), StageResult()


def _with_param(bundle, stage: str, weight: str, change):
    """The bundle with one arg param replaced by `change(param)`, as a faulty transform would."""
    if weight not in bundle.arg_params:
        raise StageError(f"no param '{weight}'", code="STG001", hint="name an arg param of the model")
    return bundle.evolve(stage=stage, arg_params={**bundle.arg_params, weight: change(bundle.arg_params[weight])})
