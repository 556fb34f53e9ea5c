"""Apply a partition to a bundle: which nodes run on a target's subgraph engine, which on the CPU.

Supported = the target's `supported_ops()` (None: every op) minus `exclude_ops` and
`exclude_nodes`. Supported op nodes are grouped into maximal subgraphs that keep the graph
acyclic (pipeline/partition/algorithm.py); each becomes one node run by the target's subgraph
engine (pipeline/partition/runtime.py), everything else runs in MXNet on the CPU. Used by the
partition stage and by the accelerator targets, which partition a bundle that was not.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field

from pipeline.core.diagnostics import Diagnostic
from pipeline.core.stage import StageResult
from pipeline.graph import bundle_from_graph, edit, graph_of
from pipeline.graph.shapes import tensor_info
from pipeline.partition.algorithm import partition
from pipeline.partition.build import dot, extract, plan, replace_parts
from pipeline.partition.runtime import SUBGRAPH_ENGINES
from pipeline.targets.base import TARGETS

RUNTIME_MODULE = "pipeline.partition.runtime"


@dataclass(frozen=True)
class PartitionRequest:
    """What to partition for: the target whose ops form the subgraphs, and what stays on the CPU."""

    target: str
    exclude_ops: list[str] = field(default_factory=list)
    exclude_nodes: list[str] = field(default_factory=list)


def _reasons(graph, ops: list[str], supported_ops, params) -> dict[str, str]:
    """Why each CPU op node is on the CPU; nodes absent from the result run on the target."""
    reasons = {}
    for n in ops:
        op = graph.nodes[n]["op"]
        if n in params.exclude_nodes:
            reasons[n] = "excluded by exclude_nodes"
        elif op in params.exclude_ops:
            reasons[n] = "excluded by exclude_ops"
        elif supported_ops is not None and op not in supported_ops:
            reasons[n] = f"op '{op}' not supported by target '{params.target}'"
    return reasons


def _warnings(graph, ops, params) -> list[Diagnostic]:
    present_ops = {graph.nodes[n]["op"] for n in ops}
    found = [Diagnostic("PRT101", "warning", f"exclude_nodes names '{n}', which is not an op node of the graph",
                        node=n, hint="check the node name against the model's symbol JSON")
             for n in params.exclude_nodes if n not in ops]
    found += [Diagnostic("PRT102", "warning", f"exclude_ops names '{op}', which no node of the graph uses",
                         hint="check the op name (MXNet op names are case-sensitive, e.g. Pooling)")
              for op in params.exclude_ops if op not in present_ops]
    return found


def partition_bundle(bundle, params: PartitionRequest):
    """(partitioned bundle, StageResult, {artifact filename: text}); writes nothing."""
    target_cls = TARGETS.get(params.target)
    supported_ops = target_cls.supported_ops()
    graph, store = graph_of(bundle)
    ops = edit.op_nodes(graph)
    reasons = _reasons(graph, ops, supported_ops, params)
    result = StageResult(diagnostics=_warnings(graph, ops, params))
    op_graph = graph.subgraph(ops)
    parts = partition(op_graph, [n for n in ops if n not in reasons])
    names = (n for n in (f"mxdeploy_subgraph{i}" for i in range(len(graph) + len(parts))) if n not in graph)
    subgraphs = [extract(graph, p, next(names)) for p in parts if p.supported]
    info = tensor_info(graph, bundle.inputs)
    the_plan = plan(graph, parts, subgraphs, info, reasons, params.target)
    crossing = [t for s in the_plan["subgraphs"] for t in s["inputs"] + s["outputs"] if t["kind"] == "activation"]
    result.metrics = {"subgraphs": len(subgraphs), "cpu_nodes": len(the_plan["cpu_nodes"]),
                      "boundary_bytes": sum(t["bytes"] for t in crossing)}
    if not subgraphs:
        fused = any(graph.nodes[n]["op"].startswith("_sg_mkldnn_") for n in ops)
        hint = ("the graph is oneDNN-fused (_sg_mkldnn_* nodes), which only MXNet's CPU runs: drop onednn_fuse "
                "from optimize.passes when partitioning for an accelerator" if fused
                else "check the target's supported ops and the exclusions")
        result.diagnostics.append(Diagnostic("PRT103", "warning", f"no node runs on target '{params.target}': "
                                             "the whole model stays on the CPU", hint=hint))
        new_bundle = bundle.evolve(stage="partition", details={"target": params.target, "subgraphs": 0})
    else:
        engine = getattr(target_cls, "subgraph_engine", "mxnet")
        for module in getattr(target_cls, "runtime_modules", ()):
            importlib.import_module(module)  # registers the target's engine
        SUBGRAPH_ENGINES.get(engine)  # an unknown engine fails here, not at the first forward after deploy
        new_graph = replace_parts(graph, subgraphs, engine)
        new_bundle = bundle_from_graph(bundle, new_graph, store, stage="partition",
                                       details={"target": params.target, "subgraphs": len(subgraphs)})
        new_bundle.metadata["runtime_modules"] = sorted(set(new_bundle.metadata.get("runtime_modules", []))
                                                        | {RUNTIME_MODULE}
                                                        | set(getattr(target_cls, "runtime_modules", ())))
    new_bundle.metadata["partition"] = {"target": params.target, "subgraphs": len(subgraphs),
                                        "cpu_nodes": len(the_plan["cpu_nodes"])}
    artifacts = {"plan.json": json.dumps(the_plan, indent=2) + "\n", "plan.dot": dot(graph, parts, subgraphs)}
    return new_bundle, result, artifacts
