"""`dask`: cells as tasks on a Dask cluster (`--executor dask --scheduler tcp://HOST:PORT`).

Each task runs its cell through `CellProcess` on the Dask worker's machine, so a native crash
kills that cell's worker process, not the Dask worker, and timeouts and the memory guard hold
there too. The task returns plain data (the cell's result dict).

Artifacts: when the Dask workers see the run directory (a shared filesystem; checked with a
token file the run writes), they write into it directly. Otherwise the task runs the cell in
a local temp folder and ships the cell's folder back as a tar.gz inside the result, which the
run unpacks; that goes through the scheduler's messages, so it suits tiny to mid-size models
only (Dask warns above ~100 MB per message): for a zoo sweep, share the run dir (NFS) instead.
The cache dir and the pipelines file's folder must be the same paths on every worker. Cell
concurrency is the cluster's worker threads (`--jobs` applies to the local executor).
"""
from __future__ import annotations

import io
import secrets
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from pipeline.core import atomic
from pipeline.core.errors import UsageError
from pipeline.run.events import PipelineEnd
from pipeline.run.executors.base import EXECUTORS
from pipeline.run.executors.supervise import CellProcess, crashed_result
from pipeline.run.paths import pipeline_folder
from pipeline.run.worker import LOG_FILE

TOKEN_FILE = ".mxdeploy-run-token"
CONNECT_SECONDS = 30
POLL_SECONDS = 0.1


def run_cell_task(spec, run_dir: str, folder: str, options, token: str, force_ship: bool = False) -> dict:
    """Runs on a Dask worker: one cell in a supervised worker process; returns its result."""
    shared = not force_ship and _sees(Path(run_dir), token)
    target = Path(run_dir) if shared else Path(tempfile.mkdtemp(prefix="mxdeploy-cell-"))
    try:
        cell = CellProcess(spec, target, folder, options).start()
        while cell.result is None:
            cell.poll()
            time.sleep(POLL_SECONDS)
        result = dict(cell.result)
        if not shared:
            result["archive"] = _pack(target / folder)
        return result
    finally:
        if not shared:
            shutil.rmtree(target, ignore_errors=True)


def _sees(run_dir: Path, token: str) -> bool:
    try:
        return (run_dir / TOKEN_FILE).read_text("utf-8").strip() == token
    except OSError:
        return False


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def _unpack(archive: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")  # refuses absolute paths, '..' and device files


@EXECUTORS.decorator("dask")
def run_dask(specs, run_dir, options, *, jobs: int = 1, scheduler: str | None = None, observer=None,
             force_ship: bool = False) -> list[dict]:
    if not scheduler:
        raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT", where="--scheduler",
                         hint="start one with 'dask scheduler' and pass its address")
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("the dask executor needs dask.distributed", where="--executor",
                         hint="pip install 'dask[distributed]==2026.8.0'") from None
    run_dir = Path(run_dir).resolve()
    token = secrets.token_hex(8)
    atomic.write_text(run_dir / TOKEN_FILE, token + "\n")
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", where="--scheduler",
                         code="RUN020", hint="check the address and that the scheduler is running") from None
    results: dict[str, dict] = {}
    try:
        futures = {}
        for spec in specs:
            folder = pipeline_folder(spec.name)
            future = client.submit(run_cell_task, spec, str(run_dir), folder, options, token, force_ship,
                                   key=f"mxdeploy-{token}-{folder}", pure=False)
            futures[future] = spec  # no pipeline_start: a submitted task may wait for a free worker
        for future in as_completed(futures):
            spec = futures[future]
            folder = pipeline_folder(spec.name)
            try:
                result = future.result()
            except Exception as exc:  # the task itself failed (its Dask worker died): the cell crashed
                result = crashed_result(spec, f"dask task failed: {type(exc).__name__}: {exc}", [],
                                        f"{folder}/{LOG_FILE}")
            archive = result.pop("archive", None)
            if archive is not None:
                _unpack(archive, run_dir / folder)
            results[spec.name] = result
            _notify(observer, PipelineEnd(spec.name, result["status"]))
    finally:
        client.close()
        (run_dir / TOKEN_FILE).unlink(missing_ok=True)
    return [results[s.name] for s in specs]


def _notify(observer, event) -> None:
    if observer is not None:
        observer(event)
