"""Runs one pipeline (or matrix cell) inside its own worker process.

The worker is a child process (`python -m pipeline.run.worker RUN_DIR FOLDER PARENT_PID`), not a
multiprocessing child: a Dask worker is a daemon process and may not fork multiprocessing
children, and a plain subprocess also gives the runner one way to start cells everywhere. The
parent writes a pickled `(PipelineSpec, CellOptions)` to stdin; the worker sends progress
events as JSON lines on its original stdout, sends its own stdout/stderr (MXNet's native logs
too) to the cell's log.txt, and writes `result.json` when it finishes. A native crash kills
only this process: the parent finds no result file and reports `crashed`. If the parent dies
(kill -9), the worker notices within a second and kills its process group, so a resumed run
never races with orphans.
"""
from __future__ import annotations

import os
import pickle
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import activity, atomic
from pipeline.core.runtime_errors import LOG_ENV, first_error_line
from pipeline.model.bundle import ModelBundle
from pipeline.run.config.model import PipelineSpec
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import MxdeployError
from pipeline.core.stage import STAGES, RunContext, StageResult
from pipeline.run.events import Event, StageEnd, StageStart, to_line
from pipeline.run.stage_report import StageReport
from pipeline.run.orphans import die_with_parent

RESULT_FILE = "result.json"
LOG_FILE = "log.txt"
ACTIVITY_FILE = "activity.json"  # the breadcrumb of pipeline/core/activity.py, read after a crash


@dataclass(frozen=True)
class CellOptions:
    """How a cell runs: limits enforced by its supervisor, and the stage cache."""

    timeout: float | None = None  # seconds, for cells whose config sets no timeout
    max_memory_gb: float | None = None  # resident memory of the cell's process group
    cache_dir: str | None = None  # None: no cache at all
    cache_read: bool = True  # False (--no-cache): recompute, then replace the entries
    cache_max_gb: float | None = None  # the cache's bound after a run; None: default_max_gb()


def stage_folder(index: int, name: str) -> str:
    return f"{index:02d}-{name}"


def main(argv: list[str]) -> int:
    """Child process entry point; see the module docstring for the protocol."""
    run_dir, folder, parent = Path(argv[0]), argv[1], int(argv[2])
    die_with_parent(parent)
    import stages  # noqa: F401  (registers the stages in this process)
    from pipeline.core.plugins import load_plugins

    load_plugins()
    spec, options = pickle.loads(sys.stdin.buffer.read())  # from our own parent, never from a model file
    pipeline_dir = run_dir / folder
    pipeline_dir.mkdir(parents=True, exist_ok=True)
    events = os.fdopen(os.dup(1), "w", buffering=1)
    log = os.open(pipeline_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    # a runtime's raw error text goes to this log, the crash breadcrumb beside it
    os.environ[LOG_ENV] = str(pipeline_dir / LOG_FILE)
    os.environ[activity.ENV] = str(pipeline_dir / ACTIVITY_FILE)
    result = run_pipeline(spec, run_dir, pipeline_dir, events, options)
    atomic.write_json(pipeline_dir / RESULT_FILE, result)
    (pipeline_dir / ACTIVITY_FILE).unlink(missing_ok=True)  # only a crash needs it
    return 0


def _error_result(exc: BaseException) -> StageResult:
    if isinstance(exc, MxdeployError):
        message = f"{exc.where}: {exc.message}" if exc.where else exc.message
        diag = Diagnostic(exc.code, "error", message, hint=exc.hint)
    else:
        traceback.print_exc()
        diag = Diagnostic("RUN002", "error", f"internal error: {type(exc).__name__}: {first_error_line(exc)}",
                          hint="this is a bug in mxdeploy; the traceback is in the pipeline's log.txt")
    return StageResult(status="error", diagnostics=[diag])


class _Model:
    """The current bundle, loaded from disk only when a stage that runs needs it.

    After cache hits the bundle exists only as files; a run whose stages all hit never loads it.
    """

    def __init__(self):
        self.bundle: ModelBundle | None = None
        self.folder: Path | None = None

    def get(self) -> ModelBundle | None:
        if self.bundle is None and self.folder is not None:
            self.bundle = ModelBundle.load(self.folder)
        return self.bundle

    def set(self, bundle: ModelBundle | None, folder: Path) -> None:
        self.bundle, self.folder = bundle, folder


def run_pipeline(spec: PipelineSpec, run_dir: Path, pipeline_dir: Path, events=None,
                 options: CellOptions | None = None) -> dict:
    """Run the source and every stage in order; stop at the first failed or errored stage."""
    from pipeline.run.cache import StageCache

    options = options or CellOptions()
    cache = StageCache(options.cache_dir, read=options.cache_read) if options.cache_dir else None
    all_stages = [spec.source, *spec.stages]
    planned = [(s.name, s.params) for s in spec.stages]
    settings = {"accelerator": spec.accelerator}
    model = _Model()
    session = None
    reports = []
    stopped = False
    for index, stage_spec in enumerate(all_stages):
        if stopped:
            reports.append(StageReport.skipped(stage_spec).to_dict())
            continue
        _send(events, StageStart(spec.name, index, stage_spec.name))
        activity.start_stage(stage_spec.name)
        stage_dir = pipeline_dir / stage_folder(index, stage_spec.name)
        shutil.rmtree(stage_dir, ignore_errors=True)  # leftovers of a killed run in this run dir
        stage_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        stage_cls = STAGES.get(stage_spec.name)
        key = material = None
        cache_note: list[Diagnostic] = []
        if cache is not None and stage_cls.cacheable:
            try:
                key, material = _key(spec, stage_cls, stage_spec, model.folder, run_dir, stage_dir, settings)
            except (OSError, ValueError) as exc:  # an unreadable input file: the stage itself will say why
                cache_note.append(Diagnostic("RUN011", "warning", f"not cached: cannot hash the stage's inputs ({exc})"))
            entry = cache.lookup(key) if key else None
            if entry is not None and cache.restore(entry, stage_dir):
                report = _cached_report(entry, stage_spec, stage_dir, run_dir, key, started)
                if entry.has_bundle:
                    model.set(None, stage_dir)
                    if session is not None:  # the live session served an older bundle
                        session.close()
                        session = None
                reports.append(report)
                _send(events, StageEnd(spec.name, index, report))
                continue
        ctx = RunContext(spec.name, stage_dir, run_dir, spec.config_dir, list(spec.inputs), stage_index=index,
                         planned_stages=planned, settings=settings, session=session)
        produced = False
        try:
            new_bundle, result = stage_cls().run(model.get(), stage_spec.params, ctx)
            if new_bundle is not None:
                new_bundle.save(stage_dir)
                result.artifacts = {"bundle": "bundle.json", **result.artifacts}
                model.set(new_bundle, stage_dir)
                produced = True
        except Exception as exc:  # every stage failure is reported, never allowed to kill the run
            result = _error_result(exc)
        session = ctx.session
        report = StageReport.of(
            stage_spec, result.status, seconds=round(time.perf_counter() - started, 3), metrics=result.metrics,
            diagnostics=[d.to_dict() for d in result.diagnostics + cache_note],
            artifacts={k: os.path.relpath(stage_dir / v, run_dir) for k, v in result.artifacts.items()}).to_dict()
        if key is not None and result.status == "passed":
            _store(cache, key, material, stage_dir, report, result, produced)
        reports.append(report)
        _send(events, StageEnd(spec.name, index, report))
        stopped = result.status in ("failed", "error")
    if session is not None:
        session.close()
    return {"name": spec.name, "status": pipeline_status(reports), "stages": reports,
            "matrix": dict(spec.matrix_values), "template": spec.template or spec.name}


def _key(spec, stage_cls, stage_spec, bundle_folder: Path | None, run_dir: Path, stage_dir: Path, settings: dict):
    from pipeline.run.cache import stage_key

    return stage_key(stage=stage_spec.name, kind=stage_cls.kind, params=stage_spec.params,
                     input_bundle_dir=bundle_folder, inputs=spec.inputs, settings=settings,
                     config_dir=spec.config_dir, location=os.path.relpath(stage_dir, run_dir),
                     planned=[(s.name, s.params) for s in spec.stages] if stage_cls.reads_plan else (),
                     host_dependent=stage_cls.host_dependent)


def restore_cached_cell(spec: PipelineSpec, run_dir: Path, pipeline_dir: Path, options: CellOptions) -> dict | None:
    """The cell's result if every stage is in the cache (restored into the run dir), else None.

    The fast path of a re-run: a fully cached cell needs no worker process, so it does not pay
    for starting Python and importing MXNet. None means "run it in a worker", which is always
    correct: the worker restores the same entries itself and reports whatever goes wrong.
    """
    import stages  # noqa: F401  (a Dask task's process may not have registered them yet)
    from pipeline.run.cache import StageCache
    from pipeline.core.errors import UnknownNameError
    from pipeline.core.plugins import load_plugins

    if not options.cache_dir or not options.cache_read:
        return None
    load_plugins()
    cache = StageCache(options.cache_dir)
    settings = {"accelerator": spec.accelerator}
    folder: Path | None = None
    reports = []
    try:
        for index, stage_spec in enumerate([spec.source, *spec.stages]):
            started = time.perf_counter()
            stage_cls = STAGES.get(stage_spec.name)
            if not stage_cls.cacheable:
                return None
            stage_dir = pipeline_dir / stage_folder(index, stage_spec.name)
            key, _ = _key(spec, stage_cls, stage_spec, folder, run_dir, stage_dir, settings)
            entry = cache.lookup(key)
            if entry is None:
                return None
            shutil.rmtree(stage_dir, ignore_errors=True)
            stage_dir.mkdir(parents=True, exist_ok=True)
            if not cache.restore(entry, stage_dir):
                return None
            reports.append(_cached_report(entry, stage_spec, stage_dir, run_dir, key, started))
            if entry.has_bundle:
                folder = stage_dir
    except (OSError, ValueError, UnknownNameError):  # anything unusual: the worker path decides and reports
        return None
    with open(pipeline_dir / LOG_FILE, "a", encoding="utf-8") as log:
        log.write(f"all {len(reports)} stages restored from the cache {cache.root}\n")
    return {"name": spec.name, "status": pipeline_status(reports), "stages": reports,
            "matrix": dict(spec.matrix_values), "template": spec.template or spec.name}


def _store(cache, key, material, stage_dir: Path, report: dict, result: StageResult, produced: bool) -> None:
    """Publish the stage folder; a failed write is a coded warning on the stage, never silent."""
    stored = {"status": result.status, "seconds": report["seconds"], "metrics": result.metrics,
              "diagnostics": report["diagnostics"], "artifacts": dict(result.artifacts)}
    try:
        cache.store(key, material, stage_dir, stored, has_bundle=produced)
    except OSError as exc:
        report["diagnostics"].append(Diagnostic(
            "RUN010", "warning", f"the stage result was not cached: {exc}",
            hint=f"check that the cache folder {cache.root} is writable").to_dict())


def _cached_report(entry, stage_spec, stage_dir: Path, run_dir: Path, key: str, started: float) -> dict:
    stored = entry.report
    return StageReport.of(
        stage_spec, "cached", seconds=round(time.perf_counter() - started, 3), metrics=stored["metrics"],
        diagnostics=stored["diagnostics"],
        artifacts={k: os.path.relpath(stage_dir / v, run_dir) for k, v in stored["artifacts"].items()},
        cache={"key": key, "computed_seconds": stored["seconds"]}).to_dict()


def pipeline_status(stage_reports: list[dict]) -> str:
    statuses = {s["status"] for s in stage_reports}
    if "error" in statuses:
        return "error"
    if "failed" in statuses:
        return "failed"
    if statuses and statuses <= {"cached"}:
        return "cached"
    return "passed"


def _send(events, event: Event) -> None:
    if events is not None:
        try:
            events.write(to_line(event) + "\n")
        except BrokenPipeError:  # the parent is gone; the parent watch ends this process
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
