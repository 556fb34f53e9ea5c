"""`local`: up to `jobs` cells at once, each in a worker process on this machine."""
from __future__ import annotations

import time

from pipeline.run.events import PipelineEnd, PipelineStart
from pipeline.run.executors.base import EXECUTORS
from pipeline.run.executors.supervise import CellProcess
from pipeline.run.paths import pipeline_folder

POLL_SECONDS = 0.1


@EXECUTORS.decorator("local")
def run_local(specs, run_dir, options, *, jobs: int = 1, scheduler: str | None = None, observer=None) -> list[dict]:
    pending = list(specs)
    active: list[CellProcess] = []
    results: dict[str, dict] = {}
    try:
        while pending or active:
            while pending and len(active) < max(1, jobs):
                spec = pending.pop(0)
                active.append(CellProcess(spec, run_dir, pipeline_folder(spec.name), options).start())
                _notify(observer, PipelineStart(spec.name, 1 + len(spec.stages)))
            for cell in list(active):
                for event in cell.poll():
                    _notify(observer, event)
                if cell.result is not None:
                    active.remove(cell)
                    results[cell.spec.name] = cell.result
                    _notify(observer, PipelineEnd(cell.spec.name, cell.result["status"]))
            time.sleep(POLL_SECONDS)
    finally:  # Ctrl-C or an observer bug: leave no worker behind
        for cell in active:
            cell.kill()
    return [results[s.name] for s in specs]


def _notify(observer, event) -> None:
    if observer is not None:
        observer(event)
