"""Runs the pipelines of a Config, each in its own worker process, and collects their results.

Where the cells run is an executor (pipeline/executors: `local` process pool or a `dask`
cluster); how one cell runs — a worker process, watched for crashes, its timeout and the
memory guard — is the same everywhere (pipeline/run/executors/supervise.py). A worker that dies
(abort, segfault, the OOM killer) or overruns a limit is reported `crashed` with the signal
or the reason, and the other pipelines go on.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline.core import atomic
from pipeline.run.events import RunStart
from pipeline.run.paths import pipeline_folder
from pipeline.run.worker import CellOptions

__all__ = ["RunResult", "new_run_id", "pipeline_folder", "run_pipelines"]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass
class RunResult:
    run_id: str
    started: str
    seconds: float
    pipelines: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "started": self.started, "seconds": self.seconds,
                "pipelines": self.pipelines, "settings": self.settings}


def _prune_cache(options: CellOptions) -> None:
    """Hold the stage cache to its bound, least recently used entries first (see cache.prune)."""
    from pipeline.run.cache import StageCache, default_max_gb

    max_gb = options.cache_max_gb if options.cache_max_gb is not None else default_max_gb()
    StageCache(options.cache_dir).prune(int(max_gb * 2**30))


def run_pipelines(specs, run_dir: Path, *, jobs: int = 1, observer=None, run_id: str | None = None,
                  executor: str = "local", scheduler: str | None = None, options: CellOptions | None = None,
                  **executor_options) -> RunResult:
    """Run `specs` with `executor`; `observer(event)` sees the progress events of pipeline/run/events.py."""
    from pipeline.run.cache import StageCache
    from pipeline.run.executors import EXECUTORS

    options = options or CellOptions()
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic.sweep_stale_temps(run_dir)  # left by an earlier run of this folder killed mid-write
    if options.cache_dir:
        StageCache(options.cache_dir).sweep()  # temp folders of writers killed in earlier runs
        _prune_cache(options)
    execute = EXECUTORS.get(executor)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    if observer is not None:
        observer(RunStart(len(specs)))
    results = execute(list(specs), run_dir, options, jobs=jobs, scheduler=scheduler, observer=observer,
                      **executor_options)
    if options.cache_dir:
        _prune_cache(options)
    settings = {"executor": executor, "jobs": jobs, "cache": bool(options.cache_dir),
                "cache_read": options.cache_read, "timeout": options.timeout,
                "max_memory_gb": options.max_memory_gb}
    return RunResult(run_id or run_dir.name, started_at, round(time.perf_counter() - t0, 3), results, settings)
