"""`deploy`: open a session for the bundle on a target, inference only, and warm it up.

A migrated Elastic Inference script may still carry what its `bind`/`Module` call had
(`for_training`, `grad_req`, a list of contexts, `group2ctxs`, an optimizer). On the
accelerator each of those was a run-time traceback; here each is refused before anything is
bound, with the guide's message where it had one (pipeline/accelerator/errors.py). The check
stage reports the same findings earlier, as diagnostics (EI2xx, EI3xx), and reads context
strings with the same reader (pipeline/targets/contexts.py); this stage is the guard that holds
even without it. Several contexts, group2ctxs or a GPU context are refused on every target (inference is served
on one device, from the CPU); check reports them too (EI305/EI306 where the target is not an
accelerator).

`target: auto` lets pipeline/precision/tuning.py pick the target and precision: every available
target x precision is quantized (where it is not fp32), guarded against fp32 on held-out random
inputs and timed, exactly as `pipeline tune` does; the fastest that passes is deployed. The
whole table and the choice with its reason go into the stage's metrics (`auto`) and into
`tune.json` beside it. Quantized candidates' files stay in the stage folder (`tune/`), so the
chosen one is served from there. When no candidate passes, the stage fails with TUN101 and the
table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Callable, Literal, Optional

import numpy as np

from pipeline.accelerator.errors import MAX_ONE_DEVICE, TRAINING_MESSAGE
from pipeline.core import atomic
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import MxdeployError, StageError, TargetError
from pipeline.core.paramspec import OneOf, ParamIssue, param
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage
from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle
from pipeline.precision.tuning import TuneResult, TuneSettings, tune, tune_options
from pipeline.targets import TARGETS, target_names
from pipeline.targets.build import open_target
from pipeline.targets.contexts import NO_CUDA, ONE_DEVICE, PARALLELISM, device_type, parse_context
from pipeline.targets.onnx_base import ONNX_FILE, ExportedOnnxTarget

AUTO = "auto"
TUNE_FILE = "tune.json"
# Fewer held-out inputs than `pipeline tune`'s 200: a pipeline deploys often, and the guard
# still judges every one of them.
AUTO_SETTINGS = TuneSettings(holdout=64)


def deploy_target_names() -> list[str]:
    """Every registered target, and `auto`."""
    return [*target_names(), AUTO]



@dataclass(frozen=True)
class DeployParams:
    target: Annotated[str, OneOf(deploy_target_names, "target")] = param(
        "cpu", "where to serve the model; auto: the fastest target x precision that passes the accuracy guard")
    api: Literal["symbol", "module"] = param("symbol", "bind with the Symbol API or the Module API")
    for_training: bool = param(False, "as in Module.bind; must stay false: inference only")
    grad_req: str = param("null", "as in bind; must stay 'null': no gradients for inference")
    contexts: list[str] = param(help="bind contexts as a migrated script had them (cpu(0), eia(0)); at most "
                                     "one, never gpu",
                                factory=list)
    group2ctxs: dict[str, str] = param(help="Module's model-parallel groups; not supported for inference",
                                       factory=dict)
    optimizer: Optional[str] = param(None, "an optimizer has no use for inference; must be unset")
    threads: Optional[int] = param(None, "worker threads for the target's engine, where it takes them")
    clip_indices: bool = param(False, "onnxruntime/openvino: clip Embedding indices to the table as MXNet does "
                                      "(else an id past it fails or reads zeros; check warns: EI901)")


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    hint: str


def _named(params: DeployParams) -> list[str]:
    """Every context string the params name: the bind's contexts and group2ctxs' values."""
    return list(params.contexts) + list(params.group2ctxs.values())


def _contexts(params: DeployParams, accelerator: bool) -> Violation | None:
    bad = [c for c in _named(params) if parse_context(c) is None]
    if bad:
        return Violation("DEP106", f"cannot read context {bad[0]!r}",
                         "write a context as cpu(0), eia(0) or gpu(0)")
    return None


def _gpu(params: DeployParams, accelerator: bool) -> Violation | None:
    gpus = [c for c in _named(params) if device_type(c) == "gpu"]
    if gpus:
        return Violation("DEP103", f"GPU context {gpus[0]} is not supported: {NO_CUDA}",
                         "use cpu(0) as the context (eia(0) for an accelerator)")
    return None


def _one_device(params: DeployParams, accelerator: bool) -> Violation | None:
    if len(params.contexts) <= 1 and not params.group2ctxs:
        return None
    what = (f"group2ctxs {dict(params.group2ctxs)}" if params.group2ctxs
            else f"{len(params.contexts)} contexts {list(params.contexts)}")
    if accelerator:
        return Violation("DEP102", f"{MAX_ONE_DEVICE} (got {what})",
                         "bind to a single context, eia(0), with no group2ctxs: no data or model parallelism")
    return Violation("DEP102", f"{ONE_DEVICE}: {what} {PARALLELISM}",
                     "bind to a single context, e.g. cpu(0), with no group2ctxs")


def _for_training(params: DeployParams, accelerator: bool) -> Violation | None:
    if not params.for_training:
        return None
    message = TRAINING_MESSAGE if accelerator else "for training cannot be set to true for an inference deployment"
    return Violation("DEP101", message,
                     "set for_training: false (Module.bind defaults to for_training=True, so pass it explicitly)")


def _grad_req(params: DeployParams, accelerator: bool) -> Violation | None:
    if params.grad_req == "null":
        return None
    return Violation("DEP104", f"grad_req '{params.grad_req}' allocates gradients, which inference never computes",
                     "set grad_req: 'null' (bind(..., grad_req='null'))")


def _optimizer(params: DeployParams, accelerator: bool) -> Violation | None:
    if params.optimizer is None:
        return None
    return Violation("DEP105", f"optimizer '{params.optimizer}' has no use for inference: no backward pass runs",
                     "remove the optimizer (and any init_optimizer call) from the deployment")


# The inference-only contract, in the order a user should fix it.
CONTRACT_RULES: tuple[Callable[[DeployParams, bool], Violation | None], ...] = (
    _contexts, _gpu, _one_device, _for_training, _grad_req, _optimizer)


def contract_violations(params: DeployParams, accelerator: bool) -> list[Violation]:
    return [v for rule in CONTRACT_RULES if (v := rule(params, accelerator)) is not None]


def choose_auto(bundle: ModelBundle, ctx: RunContext) -> tuple[TuneResult, dict, StageResult | None]:
    """target auto: (the tuning result, its report, a failed StageResult when nothing passed, else None)."""
    if quantized.record(bundle.metadata):
        raise StageError("deploy target auto needs the full-precision bundle: it quantizes each candidate itself",
                         code="TUN102", where="deploy (auto)",
                         hint="remove the quantize stage before deploy, or name the target")
    ctx.stage_dir.mkdir(parents=True, exist_ok=True)
    result = tune(bundle, settings=AUTO_SETTINGS, work_dir=ctx.stage_dir / "tune", run_dir=ctx.run_dir)
    choice = None if result.choice is None else {**result.to_json("")["choice"], "reason": result.reason}
    report = {"choice": choice, "reason": result.reason, "table": [r.to_dict() for r in result.rows],
              "details": {f"{r.target} {r.precision}": r.detail for r in result.rows if r.detail}}
    atomic.write_json(ctx.stage_dir / TUNE_FILE, report)
    if result.choice is not None:
        return result, report, None
    diag = Diagnostic("TUN101", "error", f"target auto found no deployment: {result.reason}; " +
                      "; ".join(f"{k}: {v}" for k, v in report["details"].items()),
                      hint="name a target and check it with verify, or loosen the guard if the drift is expected")
    return result, report, StageResult(status="failed", metrics={"auto": report}, diagnostics=[diag],
                                       artifacts={"tune": TUNE_FILE})


def chosen(result: TuneResult) -> tuple[ModelBundle, str, dict]:
    """(the chosen candidate's bundle, its target, the target options it was tuned with)."""
    key = (result.choice.target, result.choice.precision)
    return result.bundles[key], result.choice.target, tune_options(*key)


def _naming_a_kept_file(exc: TargetError, bundle: ModelBundle, target_cls, options: dict, ctx: RunContext):
    """A runtime's refusal names the file it read (ORT101, OVN103/105): for a fresh export that is a
    temp folder removed on close, so the same file is written to the stage folder and named instead."""
    if not issubclass(target_cls, ExportedOnnxTarget) or quantized.record(bundle.metadata) is not None \
            or not exc.where or Path(exc.where).exists() or Path(exc.where).name != ONNX_FILE:
        return exc
    try:
        kept = target_cls(**options).write_model_file(bundle, ctx.stage_dir)
    except MxdeployError:
        return exc  # it exported once; if it cannot again, the first error is the one to report
    exc.where = str(kept)
    return exc


def zeros_feed(bundle: ModelBundle) -> dict[str, np.ndarray]:
    return {s.name: np.zeros(s.shape, dtype=np.dtype(s.dtype)) for s in bundle.inputs}


@register_stage
class Deploy(Stage):
    name = "deploy"
    host_dependent = True  # target auto's choice and the first-forward time are this CPU's
    summary = "deploy to a target (inference only) and run one warm-up forward"
    Params = DeployParams
    # target auto: the target and precision it chose (metrics.auto.choice), else the one named
    summary_metrics = MappingProxyType({"target": ("metrics.auto.choice.target", "params.target"),
                                        "precision": ("metrics.auto.choice.precision",)})

    @classmethod
    def check_params(cls, params: DeployParams) -> list[ParamIssue]:
        if params.threads is not None and params.threads < 1:
            return [ParamIssue(("threads",), f"expected at least 1 thread, got {params.threads}")]
        if params.target == AUTO and params.api != "symbol":
            return [ParamIssue(("api",), "target auto deploys through the Symbol API (the ONNX targets have no other)")]
        return []

    def run(self, bundle: ModelBundle | None, params: DeployParams, ctx: RunContext):
        if bundle is None:
            raise StageError("deploy needs a model", code="DEP107", hint="put a source before deploy")
        target, options, auto = params.target, {}, None
        if target == AUTO:
            tuned, auto, failed = choose_auto(bundle, ctx)
            if failed is not None:
                return bundle, failed
            bundle, target, options = chosen(tuned)
        target_cls = TARGETS.get(target)
        violations = contract_violations(params, target_cls.is_accelerator)
        if violations:
            first = violations[0]
            raise StageError(first.message, where=f"deploy ({target})", code=first.code, hint=first.hint)
        if ctx.session is not None:  # an earlier deploy in this pipeline: only the latest session lives
            ctx.session.close()
            ctx.session = None
        options.update({"threads": params.threads} if params.threads is not None else {})
        if params.clip_indices and issubclass(target_cls, ExportedOnnxTarget):  # MXNet's targets clip already
            options["clip_indices"] = True
        if target_cls.is_accelerator and ctx.settings.get("accelerator"):
            options["accelerator"] = dict(ctx.settings["accelerator"])  # a running server to use
        deployment = {"target": target, "api": params.api, "options": options}
        out = bundle.evolve(stage="deploy", details={"target": target, "api": params.api},
                            metadata={**bundle.metadata, "deployment": deployment})
        started = time.perf_counter()
        try:
            session = open_target(target, out.metadata, ctx.run_dir, api=params.api, **options).deploy(out)
        except TargetError as exc:
            raise _naming_a_kept_file(exc, out, target_cls, options, ctx) from None
        loaded = time.perf_counter()
        try:
            session.infer(zeros_feed(out))
        except BaseException:
            session.close()
            raise
        first_forward = time.perf_counter() - loaded
        ctx.session = session
        metrics = {"load_seconds": round(loaded - started, 4), "first_forward_ms": round(first_forward * 1e3, 3),
                   **session.deploy_metrics}
        diagnostics = list(session.deploy_diagnostics)
        if auto is not None:
            metrics["auto"] = auto
            return out, StageResult(metrics=metrics, diagnostics=diagnostics, artifacts={"tune": TUNE_FILE})
        return out, StageResult(metrics=metrics, diagnostics=diagnostics)
