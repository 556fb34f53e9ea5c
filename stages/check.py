"""The `check` stage: run every rule against the bundle for a target, before anything is deployed.

It reads the stages planned after it (RunContext.planned_stages) so a deploy that asks for
training or for several contexts fails here, not on the accelerator. It does not change the
model, so it returns no bundle (the next stage gets the same one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pipeline.core import atomic
from pipeline.core.diagnostics import SEVERITIES
from pipeline.core.paramspec import OneOf, param
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage
from pipeline.targets import TARGETS, target_names
from pipeline.checks.report import check, check_report, unsupported_count
from pipeline.checks.subject import CheckSubject

REPORT_FILE = "check.json"


@dataclass(frozen=True)
class CheckParams:
    target: Annotated[str, OneOf(target_names, "target")] = param(help="the target to check the model against")
    strict: bool = param(False, "treat warnings as errors")
    shapes: list[dict[str, list[int]]] = param(
        factory=list, help="other input shapes the model will be served with, each a mapping input -> shape; "
                           "inputs left out keep their declared shape")


@register_stage
class CheckStage(Stage):
    reads_plan = True  # the inference-only and context rules read the planned deploy params
    name = "check"
    summary = "compatibility diagnostics for a target: version, inference-only, contexts, ops, memory, shapes, dtypes"
    Params = CheckParams

    def run(self, bundle, params: CheckParams, ctx: RunContext):
        subject = CheckSubject(
            bundle=bundle,
            target=TARGETS.get(params.target),
            extra_shapes=tuple({k: tuple(v) for k, v in feed.items()} for feed in params.shapes),
            planned_stages=tuple(ctx.planned_stages),
        )
        diagnostics = check(subject, strict_mode=params.strict)
        report = check_report(ctx.pipeline, subject, diagnostics)
        atomic.write_json(ctx.stage_dir / REPORT_FILE, report)
        metrics = {
            "memory_bytes": report["memory"]["bytes"],
            "smallest_fit": report["memory"]["smallest_fit"],
            "unsupported_ops": unsupported_count(subject),
            **{f"{s}s": sum(d.severity == s for d in diagnostics) for s in SEVERITIES},
        }
        result = StageResult(metrics=metrics, diagnostics=diagnostics, artifacts={"check": REPORT_FILE})
        return None, result.fail_on_errors()
