"""Runs one pipeline (or matrix cell) inside its own worker process.

The parent passes plain picklable data (a PipelineSpec) and a queue for progress events; the
worker writes `result.json` into the pipeline's folder when it finishes. A native crash in
MXNet kills only this process: the parent sees no result file and reports `crashed`.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from pipeline import atomic
from pipeline.config.model import PipelineSpec
from pipeline.diagnostics import Diagnostic
from pipeline.errors import MxdeployError
from pipeline.stage import STAGES, RunContext, StageResult

RESULT_FILE = "result.json"
LOG_FILE = "log.txt"


def stage_folder(index: int, name: str) -> str:
    return f"{index:02d}-{name}"


def entry(spec: PipelineSpec, run_dir: str, folder: str, events) -> None:
    """Process entry point: send stdout/stderr (MXNet's native logs too) to the pipeline's log."""
    pipeline_dir = Path(run_dir) / folder
    pipeline_dir.mkdir(parents=True, exist_ok=True)
    log = os.open(pipeline_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    result = run_pipeline(spec, Path(run_dir), pipeline_dir, events)
    atomic.write_json(pipeline_dir / RESULT_FILE, result)


def _error_result(exc: BaseException) -> StageResult:
    if isinstance(exc, MxdeployError):
        message = f"{exc.where}: {exc.message}" if exc.where else exc.message
        diag = Diagnostic(exc.code, "error", message, hint=exc.hint)
    else:
        traceback.print_exc()
        diag = Diagnostic("RUN002", "error", f"internal error: {type(exc).__name__}: {exc}",
                          hint="this is a bug in mxdeploy; the traceback is in the pipeline's log.txt")
    return StageResult(status="error", diagnostics=[diag])


def run_pipeline(spec: PipelineSpec, run_dir: Path, pipeline_dir: Path, events=None) -> dict:
    """Run the source and every stage in order; stop at the first failed or errored stage."""
    import stages  # noqa: F401  (registers the stages in this process)

    all_stages = [spec.source, *spec.stages]
    planned = [(s.name, s.params) for s in spec.stages]
    bundle = None
    session_holder = RunContext(spec.name, pipeline_dir, run_dir, spec.config_dir, list(spec.inputs))
    reports = []
    stopped = False
    for index, stage_spec in enumerate(all_stages):
        folder = stage_folder(index, stage_spec.name)
        if stopped:
            reports.append({"name": stage_spec.name, "status": "skipped", "seconds": 0.0, "metrics": {},
                            "diagnostics": [], "artifacts": {}})
            continue
        _send(events, ("stage_start", spec.name, index, stage_spec.name))
        stage_dir = pipeline_dir / folder
        stage_dir.mkdir(parents=True, exist_ok=True)
        ctx = RunContext(spec.name, stage_dir, run_dir, spec.config_dir, list(spec.inputs), stage_index=index,
                         planned_stages=planned, settings={"accelerator": spec.accelerator},
                         session=session_holder.session)
        started = time.perf_counter()
        try:
            new_bundle, result = STAGES.get(stage_spec.name)().run(bundle, stage_spec.params, ctx)
            if new_bundle is not None:
                new_bundle.save(stage_dir)
                result.artifacts = {"bundle": "bundle.json", **result.artifacts}
                bundle = new_bundle
        except Exception as exc:  # every stage failure is reported, never allowed to kill the run
            result = _error_result(exc)
        session_holder.session = ctx.session
        seconds = round(time.perf_counter() - started, 3)
        report = {
            "name": stage_spec.name,
            "status": result.status,
            "seconds": seconds,
            "metrics": result.metrics,
            "diagnostics": [d.to_dict() for d in result.diagnostics],
            "artifacts": {k: os.path.relpath(stage_dir / v, run_dir) for k, v in result.artifacts.items()},
        }
        reports.append(report)
        _send(events, ("stage_end", spec.name, index, report))
        stopped = result.status in ("failed", "error")
    if session_holder.session is not None:
        session_holder.session.close()
    return {"name": spec.name, "status": pipeline_status(reports), "stages": reports}


def pipeline_status(stage_reports: list[dict]) -> str:
    statuses = {s["status"] for s in stage_reports}
    if "error" in statuses:
        return "error"
    if "failed" in statuses:
        return "failed"
    if statuses and statuses <= {"cached"}:
        return "cached"
    return "passed"


def _send(events, message) -> None:
    if events is not None:
        events.put(message)
