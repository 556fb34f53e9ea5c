"""The optimize stage: graph passes in order, each guarded by an output comparison.

A pass that changes results is worse than no pass (silently wrong optimizers top the issue
trackers of ONNX Runtime and onnxsim), so after every pass the stage runs the model before
and after on the same seeded random inputs through MXNet's executor and refuses the pass
when any output differs by more than `atol + rtol * |ref|`: the stage fails with OPT101
naming the pass and the measured error, and the bundle it returns is the last good one.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated

from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import MxdeployError
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import CompareResult, compare
from pipeline.graph.edit import op_count
from pipeline.core.paramspec import OneOf, param
from pipeline.core.stage import Stage, StageResult, register_stage
from pipeline.graph.passes import PASSES

DEFAULT_PASSES = ("strip_training", "eliminate", "fold_constants", "fold_batchnorm", "cse")
GUARD_SEED = 0


@dataclass(frozen=True)
class OptimizeParams:
    passes: list[Annotated[str, OneOf(PASSES.names, "pass")]] = param(
        factory=lambda: list(DEFAULT_PASSES), help="graph passes to apply, in order")
    atol: float = param(1e-4, help="absolute tolerance of the per-pass output guard")
    rtol: float = param(1e-3, help="relative tolerance of the per-pass output guard")
    guard: bool = param(True, help="compare outputs before and after every pass and refuse a pass that diverges")


def _refusal(name: str, cmp: CompareResult, params) -> Diagnostic:
    # a finite max error names how far the values moved; otherwise the reason says what broke
    err = f"max abs error {cmp.max_abs_err:.3g}" if math.isfinite(cmp.max_abs_err) else f"outputs differ: {cmp.reason}"
    return Diagnostic(
        code="OPT101", severity="error", node=name,
        message=f"pass '{name}' changed the outputs beyond tolerance ({err}; "
                f"atol={params.atol:g}, rtol={params.rtol:g}); pass refused",
        hint=f"remove '{name}' from optimize.passes, or loosen atol/rtol if the difference is expected")


@register_stage
class OptimizeStage(Stage):
    name = "optimize"
    summary = "graph passes (fold BatchNorm, strip training heads, ...), each proven to keep outputs"
    Params = OptimizeParams
    summary_metrics = MappingProxyType({"nodes_before": ("metrics.nodes_before",),
                                        "nodes_after": ("metrics.nodes_after",),
                                        "params_bytes": ("metrics.params_bytes_after",)})

    def run(self, bundle, params, ctx):
        return optimize(bundle, params, passes=PASSES)


def optimize(bundle, params: OptimizeParams, *, passes=PASSES):
    """Apply `params.passes` from the registry `passes`; returns (bundle, StageResult)."""
    result = StageResult(metrics={"nodes_before": bundle.node_count(), "params_bytes_before": bundle.params_bytes(),
                                  "passes": []})
    feed = random_feed(bundle.inputs, GUARD_SEED) if params.guard else None
    before = run_bundle(bundle, feed) if params.guard else None
    for name in params.passes:
        graph, store = graph_of(bundle)
        row = {"name": name, "nodes_before": op_count(graph), "params_bytes_before": store.nbytes()}
        start = time.perf_counter()
        try:
            new_graph, new_store = passes.get(name)(graph, store, bundle.inputs)
            candidate = bundle_from_graph(bundle, new_graph, new_store, stage="optimize", details={"pass": name})
        except MxdeployError as exc:
            result.diagnostics.append(Diagnostic(code=exc.code, severity="error", node=name,
                                                 message=f"pass '{name}' failed: {exc.message}", hint=exc.hint))
            result.status = "failed"
            break
        row.update(nodes_after=op_count(new_graph), params_bytes_after=new_store.nbytes())
        if params.guard:
            after = run_bundle(candidate, feed)
            cmp = compare(before, after, atol=params.atol, rtol=params.rtol, equal_nan=True)
            row["max_abs_err"] = cmp.metrics()["max_abs_err"]
            if not cmp.passed:
                row["seconds"] = round(time.perf_counter() - start, 4)
                row["refused"] = True
                result.metrics["passes"].append(row)
                result.diagnostics.append(_refusal(name, cmp, params))
                result.status = "failed"
                break
            before = after
        row["seconds"] = round(time.perf_counter() - start, 4)
        result.metrics["passes"].append(row)
        bundle = candidate
    result.metrics.update(nodes_after=bundle.node_count(), params_bytes_after=bundle.params_bytes())
    return bundle, result
