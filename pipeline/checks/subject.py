"""What the rules look at (CheckSubject) and where they are registered (RULES).

A rule is a plain function `(subject) -> list[Diagnostic]`, registered under a name with
`@rule("name")`. Rules never raise for a problem with the model: they report it. The subject
is plain data: the bundle, the target class, any extra input shapes the model will be run
with, and the stages planned after the check (their params dataclasses), so a rule can see
what a later deploy stage will ask for (training mode, contexts) before it runs.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline.model.bundle import ModelBundle, graph_mxnet_version
from pipeline.model.symbol_json import node_attrs
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.registry import Registry
from pipeline.targets.base import TARGETS, Target

Rule = Callable[["CheckSubject"], list[Diagnostic]]
RULES: Registry[Rule] = Registry("check rule")

DEPLOY_STAGE = "deploy"
MAX_NAMES = 12  # node names listed in one message before "and N more"


def rule(name: str):
    """Decorator: register a rule function under `name`."""
    return RULES.decorator(name)


@dataclass(frozen=True)
class CheckSubject:
    """Everything the rules may read; nothing here is mutated by a rule."""

    bundle: ModelBundle
    target: type[Target]
    extra_shapes: tuple[dict[str, tuple[int, ...]], ...] = ()  # alternative feeds, input -> shape
    planned_stages: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    # results rules share within one check (pipeline/checks/runtime.py's bind): not part of the subject
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    # -- graph views ---------------------------------------------------------------------
    @functools.cached_property
    def nodes(self) -> list[dict]:
        return json.loads(self.bundle.symbol_json)["nodes"]

    @functools.cached_property
    def heads(self) -> list[list[int]]:
        return json.loads(self.bundle.symbol_json)["heads"]

    def op_nodes(self, *ops: str) -> list[dict]:
        """Op nodes (no variables), optionally only those whose op is in `ops`."""
        return [n for n in self.nodes if n["op"] != "null" and (not ops or n["op"] in ops)]

    @staticmethod
    def attrs(node: dict) -> dict:
        return node_attrs(node)

    # -- model facts ---------------------------------------------------------------------
    @property
    def saved_mxnet_version(self) -> int | None:
        """The MXNet version that saved the graph: recorded by the source, else the graph's own."""
        meta = self.bundle.metadata
        if "mxnet_version" in meta:
            return meta["mxnet_version"]
        return graph_mxnet_version(self.bundle.symbol_json)

    @property
    def source(self) -> dict:
        source = self.bundle.metadata.get("source", {})
        return source if isinstance(source, dict) else {}

    def shape_sets(self) -> list[dict[str, tuple[int, ...]]]:
        """The declared input shapes first, then each extra feed (unnamed inputs keep theirs)."""
        base = self.bundle.input_shapes()
        sets = [base]
        for extra in self.extra_shapes:
            candidate = {**base, **{k: tuple(v) for k, v in extra.items()}}
            if candidate not in sets:
                sets.append(candidate)
        return sets

    # -- the planned pipeline -------------------------------------------------------------
    def planned(self, stage_name: str) -> list[Any]:
        """Params of every planned stage called `stage_name`, in order."""
        return [params for name, params in self.planned_stages if name == stage_name]

    def deploy_params(self) -> list[Any]:
        return self.planned(DEPLOY_STAGE)

    def accelerator_names(self) -> list[str]:
        """Accelerator targets involved: the check's own and any planned deploy's."""
        names = [self.target.name] if self.target.is_accelerator else []
        for params in self.deploy_params():
            name = getattr(params, "target", None)
            if isinstance(name, str) and is_accelerator(name) and name not in names:
                names.append(name)
        return names


def is_accelerator(target_name: str) -> bool:
    return target_name in TARGETS and TARGETS.get(target_name).is_accelerator


def name_list(names: list[str]) -> str:
    """'a, b, c' with at most MAX_NAMES shown, then 'and N more'."""
    shown = ", ".join(names[:MAX_NAMES])
    return shown + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


def mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


def run_rules(subject: CheckSubject) -> list[Diagnostic]:
    """Every registered rule's diagnostics, ordered by code (stable within a code)."""
    diagnostics: list[Diagnostic] = []
    for _, fn in RULES.items():
        diagnostics.extend(fn(subject))
    return sorted(diagnostics, key=lambda d: d.code)
