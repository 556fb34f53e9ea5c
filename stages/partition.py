"""The partition stage: the plan of pipeline/partition/apply.py, written as plan.json and plan.dot.

A partition that leaves work on the CPU is visible in those files, not discovered in a latency graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pipeline.core import atomic
from pipeline.core.paramspec import OneOf, param
from pipeline.core.stage import Stage, register_stage
from pipeline.partition.apply import PartitionRequest, partition_bundle
from pipeline.targets.base import TARGETS

ARTIFACTS = {"plan": "plan.json", "plan_dot": "plan.dot"}  # report key -> file in the stage folder


@dataclass(frozen=True)
class PartitionParams:
    target: Annotated[str, OneOf(TARGETS.names, "target")] = param(help="target whose supported ops form the subgraphs")
    exclude_ops: list[str] = param(factory=list, help="op names kept on the CPU even if the target supports them")
    exclude_nodes: list[str] = param(factory=list, help="node names kept on the CPU")


@register_stage
class PartitionStage(Stage):
    name = "partition"
    summary = "group the target's supported ops into subgraphs; the rest runs on the CPU"
    Params = PartitionParams

    def run(self, bundle, params, ctx):
        new_bundle, result, artifacts = partition_bundle(
            bundle, PartitionRequest(params.target, list(params.exclude_ops), list(params.exclude_nodes)))
        for key, filename in ARTIFACTS.items():
            atomic.write_text(ctx.stage_dir / filename, artifacts[filename])
            result.artifacts[key] = filename
        return new_bundle, result
