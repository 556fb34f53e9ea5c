"""Runs the pipelines of a Config, each in its own worker process, and collects their results.

Workers are started with the `spawn` method: MXNet's thread pools do not survive `fork`.
A worker that dies (abort, segfault, the kernel's OOM killer) or overruns its timeout is
reported `crashed` with the signal or the reason, and the other pipelines go on.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import queue
import re
import secrets
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline import worker
from pipeline.config.model import PipelineSpec

POLL_SECONDS = 0.2


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def pipeline_folder(name: str) -> str:
    """A filesystem-safe folder for a pipeline or matrix cell name."""
    return re.sub(r"[^A-Za-z0-9_.=,-]", "_", name.replace("[", "__").replace("]", ""))


@dataclass
class RunResult:
    run_id: str
    started: str
    seconds: float
    pipelines: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "started": self.started, "seconds": self.seconds,
                "pipelines": self.pipelines}


@dataclass
class _Active:
    spec: PipelineSpec
    process: mp.Process
    started: float
    stages: list = field(default_factory=list)
    current: str = ""


def run_pipelines(specs, run_dir: Path, *, jobs: int = 1, observer=None, run_id: str | None = None) -> RunResult:
    """Run `specs` with up to `jobs` workers at once; `observer(event)` sees progress events."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    pending = list(specs)
    active: dict[str, _Active] = {}
    results: dict[str, dict] = {}
    while pending or active:
        while pending and len(active) < max(1, jobs):
            spec = pending.pop(0)
            proc = ctx.Process(target=worker.entry, name=f"mxdeploy:{spec.name}",
                               args=(spec, str(run_dir), pipeline_folder(spec.name), events), daemon=True)
            proc.start()
            active[spec.name] = _Active(spec, proc, time.perf_counter())
            _notify(observer, ("pipeline_start", spec.name, 1 + len(spec.stages)))
        _drain(events, active, observer)
        for name, item in list(active.items()):
            overdue = item.spec.timeout is not None and time.perf_counter() - item.started > item.spec.timeout
            if overdue and item.process.is_alive():
                item.process.kill()
                item.process.join()
                _drain(events, active, observer)
                results[name] = _crashed(item, f"timed out after {item.spec.timeout:g} s", run_dir)
            elif not item.process.is_alive():
                item.process.join()
                _drain(events, active, observer)
                results[name] = _collect(item, run_dir)
            else:
                continue
            del active[name]
            _notify(observer, ("pipeline_end", name, results[name]["status"]))
    events.close()
    ordered = [results[s.name] for s in specs]
    return RunResult(run_id or run_dir.name, started_at, round(time.perf_counter() - t0, 3), ordered)


def _drain(events, active: dict, observer) -> None:
    while True:
        try:
            event = events.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return
        kind, name = event[0], event[1]
        item = active.get(name)
        if item is not None and kind == "stage_start":
            item.current = event[3]
        elif item is not None and kind == "stage_end":
            item.stages.append(event[3])
            item.current = ""
        _notify(observer, event)


def _collect(item: _Active, run_dir: Path) -> dict:
    result_path = run_dir / pipeline_folder(item.spec.name) / worker.RESULT_FILE
    if item.process.exitcode == 0 and result_path.is_file():
        result = json.loads(result_path.read_text("utf-8"))
        result_path.unlink()
        result["log"] = str(Path(pipeline_folder(item.spec.name)) / worker.LOG_FILE)
        return result
    code = item.process.exitcode
    if code is not None and code < 0:
        try:
            reason = f"worker process killed by {signal.Signals(-code).name}"
        except ValueError:
            reason = f"worker process killed by signal {-code}"
    else:
        reason = f"worker process exited with status {code} without a result"
    return _crashed(item, reason, run_dir)


def _crashed(item: _Active, reason: str, run_dir: Path) -> dict:
    stages = list(item.stages)
    all_names = [item.spec.source.name, *(s.name for s in item.spec.stages)]
    if len(stages) < len(all_names):
        stage_name = all_names[len(stages)]
        stages.append({"name": stage_name, "status": "error", "seconds": 0.0, "metrics": {}, "artifacts": {},
                       "diagnostics": [{"code": "RUN001", "severity": "error", "node": "",
                                        "message": f"{reason} during stage '{stage_name}'",
                                        "hint": "see the pipeline's log.txt; the other pipelines were not affected"}]})
        for name in all_names[len(stages):]:
            stages.append({"name": name, "status": "skipped", "seconds": 0.0, "metrics": {}, "diagnostics": [],
                           "artifacts": {}})
    return {"name": item.spec.name, "status": "crashed", "reason": reason, "stages": stages,
            "log": str(Path(pipeline_folder(item.spec.name)) / worker.LOG_FILE)}


def _notify(observer, event) -> None:
    if observer is not None:
        observer(event)
