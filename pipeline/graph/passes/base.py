"""The pass contract and registry.

A pass is a plain function `(graph, params, inputs) -> (graph, params)` over the networkx view
(`pipeline.graph`) and a `ParamStore`. It returns NEW objects and leaves its arguments as they
were, so the optimize stage can compare the model before and after and keep the old one when
the new one diverges. A pass that edits in place would have to say so in its name; none does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import networkx as nx

from pipeline.model.bundle import TensorSpec
from pipeline.graph.param_store import ParamStore
from pipeline.core.registry import Registry

PassFn = Callable[[nx.MultiDiGraph, ParamStore, list[TensorSpec]], tuple[nx.MultiDiGraph, ParamStore]]


@dataclass(frozen=True)
class Pass:
    name: str
    fn: PassFn
    summary: str

    def __call__(self, graph, params, inputs):
        return self.fn(graph, params, inputs)


PASSES: Registry[Pass] = Registry("pass")


def register_pass(name: str, summary: str):
    """Decorator: register `fn` as the pass `name`."""

    def wrap(fn: PassFn) -> PassFn:
        PASSES.register(name, Pass(name, fn, summary))
        return fn

    return wrap


def flag(attrs: dict, key: str, default: bool) -> bool:
    """An MXNet boolean attr as written in symbol JSON ('True', 'False', '1', '0')."""
    value = attrs.get(key)
    if value is None:
        return default
    return str(value).strip().lower() in ("true", "1")


def number(attrs: dict, key: str, default: float) -> float:
    value = attrs.get(key)
    return default if value is None else float(value)
