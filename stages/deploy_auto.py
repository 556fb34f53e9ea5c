"""`deploy: {target: auto}`: let pipeline/precision/tuning.py pick the target and precision, then deploy it.

Every available target x precision is quantized (where it is not fp32), guarded against fp32 on
held-out random inputs and timed, exactly as `pipeline tune` does; the fastest that passes is
deployed. The whole table and the choice with its reason go into the deploy stage's metrics
(`auto`) and into `tune.json` beside it. Quantized candidates' files stay in the stage folder
(`tune/`), so the chosen one is served from there. When no candidate passes, the stage fails
with TUN101 and the table.
"""
from __future__ import annotations

from pipeline.core import atomic
from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import StageError
from pipeline.core.stage import RunContext, StageResult
from pipeline.precision.tuning import TuneResult, TuneSettings, tune, tune_options

AUTO = "auto"
TUNE_FILE = "tune.json"
# Fewer held-out inputs than `pipeline tune`'s 200: a pipeline deploys often, and the guard
# still judges every one of them.
AUTO_SETTINGS = TuneSettings(holdout=64)


def choose(bundle: ModelBundle, ctx: RunContext) -> tuple[TuneResult, dict, StageResult | None]:
    """(the tuning result, its report, a failed StageResult when nothing passed, else None)."""
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
