"""The stage contract: a registered class with typed params that maps a bundle to a bundle.

Stages do not call each other; everything one stage leaves for the next travels in the
`ModelBundle` (or, for the live deployed session only, in the `RunContext`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Mapping

from pipeline.core.diagnostics import Diagnostic, has_errors
from pipeline.core.paramspec import NoParams, ParamIssue
from pipeline.core.registry import Registry

if TYPE_CHECKING:  # the contract names the bundle; core stays below model at run time
    from pipeline.model.bundle import ModelBundle, TensorSpec

StageStatus = Literal["passed", "failed", "error", "skipped", "cached"]
# summary column -> where its value is in the stage's report entry, first found wins
# ("metrics.latency_ms.p50", "params.target"). The report's one-row-per-cell table reads these.
SummaryMetrics = Mapping[str, tuple[str, ...]]
# What every source reports (its metrics `nodes` and `params_bytes`), unless it declares otherwise.
SOURCE_SUMMARY: SummaryMetrics = MappingProxyType({"nodes_before": ("metrics.nodes",),
                                                   "params_bytes": ("metrics.params_bytes",)})


@dataclass
class StageResult:
    """What a stage reports: status, metrics, diagnostics and artifact paths (relative to its folder)."""

    status: StageStatus = "passed"
    metrics: dict = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)

    def fail_on_errors(self) -> "StageResult":
        """Mark the result failed when any diagnostic is an error."""
        if has_errors(self.diagnostics) and self.status == "passed":
            self.status = "failed"
        return self


@dataclass
class RunContext:
    """Where and for which pipeline a stage runs; plain data except the live `session`."""

    pipeline: str
    stage_dir: Path
    run_dir: Path
    config_dir: Path
    inputs: list[TensorSpec]
    stage_index: int = 0
    planned_stages: list[tuple[str, Any]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    session: Any = None  # the deployed target session, handed from deploy to verify

    def resolve(self, path: str) -> Path:
        """A path from the config, resolved against the YAML file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.config_dir / p)


class Stage:
    """Base class: subclasses set `name`, `Params`, `summary` and implement `run`."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    kind: ClassVar[Literal["source", "transform"]] = "transform"
    # False: never served from the stage cache (pipeline/run/cache.py), e.g. a stage whose output
    # depends on something outside its key (the clock, a remote service, ctx.planned_stages).
    cacheable: ClassVar[bool] = True
    # True for stages that read ctx.planned_stages (check): the plan then joins their cache key.
    reads_plan: ClassVar[bool] = False
    # Which of its metrics (or params) go to the report's summary table, by column; None: a
    # source's SOURCE_SUMMARY, nothing for a transform. Later stages of a cell win a column.
    summary_metrics: ClassVar[SummaryMetrics | None] = None

    @classmethod
    def summary_columns(cls) -> SummaryMetrics:
        if cls.summary_metrics is not None:
            return cls.summary_metrics
        return SOURCE_SUMMARY if cls.kind == "source" else MappingProxyType({})
    # True for stages whose result depends on the host CPU (a measured latency, a bf16/int8
    # choice, target auto): the CPU model and flags join their cache key (pipeline/run/cache.py).
    host_dependent: ClassVar[bool] = False

    @classmethod
    def check_params(cls, params) -> list[ParamIssue]:
        """Cross-field checks beyond the types; runs at validation time, before any model loads."""
        return []

    def run(self, bundle: ModelBundle | None, params, ctx: RunContext) -> tuple[ModelBundle | None, StageResult]:
        raise NotImplementedError


STAGES: Registry[type[Stage]] = Registry("stage")


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator: register a stage under its `name`."""
    return STAGES.register(cls.name, cls)


def _lookup(entry: dict, path: str):
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def stage_summary(name: str, entry: dict) -> dict:
    """The summary values stage `name` declares, read from its report entry (metrics, params).

    A stage name this process does not know (a plugin not loaded) has no summary."""
    if name not in STAGES:
        return {}
    out = {}
    for column, paths in STAGES.get(name).summary_columns().items():
        value = next((v for v in (_lookup(entry, p) for p in paths) if v is not None), None)
        if value is not None:
            out[column] = value
    return out


def source_stage_names() -> list[str]:
    return [n for n, c in STAGES.items() if c.kind == "source"]


def transform_stage_names() -> list[str]:
    return [n for n, c in STAGES.items() if c.kind == "transform"]
