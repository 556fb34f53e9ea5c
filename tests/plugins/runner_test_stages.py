"""Test-only stages for the runner, cache, Dask and report tests (loaded via MXDEPLOY_PLUGINS).

They are tiny on purpose: a one-layer FullyConnected model and stages that sleep, abort,
allocate memory or count their executions in a file, so the runner's behaviour (cache hits,
resume, limits, executors) is tested in seconds, independent of the real stages.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.paramspec import param
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage


@dataclass(frozen=True)
class TinyFcParams:
    hidden: int = param(4, "output units")
    seed: int = param(0, "weight seed")
    weights: Optional[str] = param(None, "a text file whose content is added to the seed (tests file hashing)")


@register_stage
class TinyFc(Stage):
    name = "tiny_fc"
    kind = "source"
    summary = "test source: one FullyConnected layer with seeded random weights"
    Params = TinyFcParams

    def run(self, bundle, params: TinyFcParams, ctx: RunContext):
        import mxnet as mx

        seed = params.seed
        if params.weights:
            seed += sum(ctx.resolve(params.weights).read_bytes())
        spec = ctx.inputs[0]
        rng = np.random.default_rng(seed)
        data = mx.sym.var(spec.name)
        sym = mx.sym.FullyConnected(data, num_hidden=params.hidden, name="fc")
        width = int(np.prod(spec.shape[1:]))
        args = {"fc_weight": rng.standard_normal((params.hidden, width)).astype("float32"),
                "fc_bias": rng.standard_normal((params.hidden,)).astype("float32")}
        out = ModelBundle.from_symbol(sym, args, {}, ctx.inputs, metadata={"source": {"kind": "tiny_fc"}})
        return out, StageResult(metrics={"nodes": out.node_count(), "params_bytes": out.params_bytes()})


@dataclass(frozen=True)
class CountParams:
    file: str = param(help="file (relative to the pipelines file) that gets one line per execution")
    tag: str = param("", "text written on the line; changes the stage's key")


@register_stage
class Count(Stage):
    name = "t_count"
    summary = "test stage: appends a line to a file each time it really runs, passes the model on"
    Params = CountParams

    def run(self, bundle, params: CountParams, ctx: RunContext):
        with open(ctx.resolve(params.file), "a", encoding="utf-8") as fh:
            fh.write(f"{ctx.pipeline} {ctx.stage_index} {params.tag}\n")
        (ctx.stage_dir / "note.txt").write_text(f"counted {params.tag}\n", "utf-8")
        out = bundle.evolve(stage="t_count", details={"tag": params.tag})
        return out, StageResult(metrics={"tag": params.tag}, artifacts={"note": "note.txt"})


@dataclass(frozen=True)
class SleepParams:
    seconds: float = param(1.0, "how long to sleep")


@register_stage
class Sleep(Stage):
    name = "t_sleep"
    summary = "test stage: sleeps"
    Params = SleepParams

    def run(self, bundle, params: SleepParams, ctx: RunContext):
        time.sleep(params.seconds)
        return None, StageResult(metrics={"slept": params.seconds})


@register_stage
class Abort(Stage):
    name = "t_abort"
    summary = "test stage: kills its process with SIGABRT, like a native crash"

    def run(self, bundle, params, ctx: RunContext):
        os.abort()


@dataclass(frozen=True)
class AllocParams:
    gib: float = param(1.0, "memory to allocate and touch")
    hold: float = param(5.0, "seconds to hold it")


@register_stage
class Alloc(Stage):
    name = "t_alloc"
    summary = "test stage: allocates and touches memory, then holds it"
    Params = AllocParams

    def run(self, bundle, params: AllocParams, ctx: RunContext):
        block = np.ones(int(params.gib * (1 << 30)) // 8)
        time.sleep(params.hold)
        return None, StageResult(metrics={"sum": float(block[:10].sum())})


class _FakeSession:
    """Stands in for a target session: records whether verify got it live or re-deployed."""

    def __init__(self, target: str):
        self.target = target
        self.closed = False

    def close(self):
        self.closed = True


@dataclass(frozen=True)
class DeployParams:
    target: str = param("cpu", "recorded as the deployment target")


@register_stage
class Deploy(Stage):
    name = "t_deploy"
    summary = "test stage: 'deploys' (a fake session in ctx.session) and records the deployment"
    Params = DeployParams
    summary_metrics = {"target": ("metrics.target",)}

    def run(self, bundle, params: DeployParams, ctx: RunContext):
        ctx.session = _FakeSession(params.target)
        metadata = {**bundle.metadata, "deployment": {"target": params.target}}
        return bundle.evolve(stage="t_deploy", metadata=metadata), StageResult(metrics={"target": params.target})


@dataclass(frozen=True)
class VerifyParams:
    p50: float = param(1.0, "latency p50 to report (ms)")
    fail: bool = param(False, "report a failed comparison with diagnostic TST001")


@register_stage
class Verify(Stage):
    name = "t_verify"
    summary = "test stage: uses the live session, or re-deploys from the bundle's deployment (never cached)"
    Params = VerifyParams
    cacheable = False
    summary_metrics = {"target": ("metrics.target",), "max_abs_err": ("metrics.max_abs_err",),
                       "p50_ms": ("metrics.latency_ms.p50",)}

    def run(self, bundle, params: VerifyParams, ctx: RunContext):
        session, redeployed = ctx.session, False
        if session is None:
            session, redeployed = _FakeSession(bundle.metadata["deployment"]["target"]), True
        metrics = {"max_abs_err": 0.0, "cosine": 1.0, "redeployed": redeployed, "target": session.target,
                   "latency_ms": {"p50": params.p50, "p90": params.p50, "p99": params.p50}}
        if params.fail:
            diag = Diagnostic("TST001", "error", "outputs differ", hint="none, it is a test")
            return None, StageResult(status="failed", metrics=metrics, diagnostics=[diag])
        return None, StageResult(metrics=metrics)
