"""One cell in one worker process, watched: progress events, timeout, memory guard, exit.

Every executor runs cells through `CellProcess` (the local pool directly, a Dask task inside
the task), so crash isolation and the limits are the same wherever a cell runs. The worker
gets its own process group: a timeout or the memory guard kills the group, children included.
The memory guard polls the resident set size of the group in /proc rather than setting
RLIMIT_AS: MXNet and its thread pools reserve far more address space than they touch, so an
address-space limit fails healthy models long before they use the memory.
"""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core import activity
from pipeline.run import worker
from pipeline.run.events import Event, StageEnd, StageStart, from_line
from pipeline.run.stage_report import StageReport
from pipeline.run.config.model import PipelineSpec
from pipeline.run.worker import CellOptions

GiB = 1 << 30
_PAGE = os.sysconf("SC_PAGE_SIZE")


def group_rss_bytes(pgid: int) -> int:
    """Resident bytes of every process in process group `pgid` (Linux /proc)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state is fields[0]
        if int(fields[2]) == pgid:
            total += int(fields[21]) * _PAGE
    return total


@dataclass
class CellProcess:
    """A started worker for one cell; `poll()` until `result` is set."""

    spec: PipelineSpec
    run_dir: Path
    folder: str
    options: CellOptions
    payload: bytes = b""
    started: float = 0.0
    stages: list = field(default_factory=list)
    result: dict | None = None
    _proc: subprocess.Popen | None = None
    _buffer: bytes = b""
    _replay: list = field(default_factory=list)

    @property
    def timeout(self) -> float | None:
        return self.spec.timeout if self.spec.timeout is not None else self.options.timeout

    def start(self) -> "CellProcess":
        cell_dir = self.run_dir / self.folder
        cell_dir.mkdir(parents=True, exist_ok=True)
        (cell_dir / worker.RESULT_FILE).unlink(missing_ok=True)  # a stale one from a killed run
        (cell_dir / worker.ACTIVITY_FILE).unlink(missing_ok=True)
        cached = worker.restore_cached_cell(self.spec, self.run_dir, cell_dir, self.options)
        if cached is not None:
            cached["log"] = f"{self.folder}/{worker.LOG_FILE}"
            self.stages = list(cached["stages"])
            self._replay = [e for i, s in enumerate(self.stages)
                            for e in (StageStart(self.spec.name, i, s["name"]), StageEnd(self.spec.name, i, s))]
            self.result = cached
            return self
        payload = self.payload or pickle.dumps((self.spec, self.options))
        with open(cell_dir / worker.LOG_FILE, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.run.worker", str(self.run_dir), self.folder, str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        self.started = time.monotonic()
        try:
            self._proc.stdin.write(payload)
            self._proc.stdin.close()
        except BrokenPipeError:  # the worker died at import; poll() reports its exit status
            pass
        os.set_blocking(self._proc.stdout.fileno(), False)
        return self

    def poll(self) -> list[Event]:
        """Progress events since the last poll; sets `result` once the cell is over."""
        if self._proc is None:  # served from the cache without a worker
            events, self._replay = self._replay, []
            return events
        events = self._read_events()
        if self.result is not None:
            return events
        code = self._proc.poll()
        if code is not None:
            events += self._read_events(final=True)
            self.result = self._collect(code)
            return events
        elapsed = time.monotonic() - self.started
        if self.timeout is not None and elapsed > self.timeout:
            self._kill()
            self.result = self._crashed(f"timed out after {self.timeout:g} s")
        elif self.options.max_memory_gb is not None:
            if group_rss_bytes(self._proc.pid) > self.options.max_memory_gb * GiB:
                self._kill()
                self.result = self._crashed(f"memory limit exceeded ({self.options.max_memory_gb:g} GiB)")
        return events

    def kill(self) -> None:
        """Stop the cell now (the run is interrupted)."""
        if self._proc is not None and self._proc.poll() is None:
            self._kill()

    def _kill(self) -> None:
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()
        self._read_events(final=True)

    def _read_events(self, final: bool = False) -> list[Event]:
        out = []
        try:
            chunk = self._proc.stdout.read() if self._proc else None
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        if final and self._buffer:
            lines.append(self._buffer)
            self._buffer = b""
        for line in lines:
            event = from_line(line)
            if event is None:  # a torn line from a killed worker
                continue
            if isinstance(event, StageEnd):
                self.stages.append(event.report)
            out.append(event)
        if final and self._proc and not self._proc.stdout.closed:
            self._proc.stdout.close()
        return out

    def _collect(self, code: int) -> dict:
        result_path = self.run_dir / self.folder / worker.RESULT_FILE
        if code == 0 and result_path.is_file():
            result = json.loads(result_path.read_text("utf-8"))
            result_path.unlink()
            result["log"] = f"{self.folder}/{worker.LOG_FILE}"
            return result
        if code < 0:
            try:
                reason = f"worker process killed by {signal.Signals(-code).name}"
            except ValueError:
                reason = f"worker process killed by signal {-code}"
        else:
            reason = f"worker process exited with status {code} without a result"
        crumb = activity.read(self.run_dir / self.folder / worker.ACTIVITY_FILE)
        return self._crashed(reason + activity.describe(crumb), crash_hint(crumb))

    def _crashed(self, reason: str, hint: str = "") -> dict:
        return crashed_result(self.spec, reason, self.stages, f"{self.folder}/{worker.LOG_FILE}", hint)


def crash_hint(crumb: dict) -> str:
    """What to try after a native crash, from what the worker was doing when it died."""
    if not crumb.get("runtime"):
        return ""
    hint = f"{crumb['runtime']} crashed natively in {crumb.get('action', 'a call')}"
    if crumb.get("feed"):
        hint += ("; check that the declared inputs' dtype and range (inputs: {NAME: {range, integer}}) are "
                 "values the model accepts (an index or length input fed random floats corrupts memory)")
    return hint + "; try another target, or `pipeline compare MODEL@cpu MODEL@TARGET --localize`"


def crashed_result(spec: PipelineSpec, reason: str, finished: list[dict], log: str, hint: str = "") -> dict:
    """The report of a cell whose worker died: finished stages, then the culprit, then skips."""
    stages = list(finished)
    all_specs = [spec.source, *spec.stages]
    if len(stages) < len(all_specs):
        culprit = all_specs[len(stages)]
        stages.append(StageReport.of(culprit, "error", diagnostics=[
            {"code": "RUN001", "severity": "error", "node": "", "message": f"{reason} during stage '{culprit.name}'",
             "hint": (hint + "; " if hint else "") +
                     "see the pipeline's log.txt; the other pipelines were not affected"}]).to_dict())
        stages += [StageReport.skipped(rest).to_dict() for rest in all_specs[len(stages):]]
    return {"name": spec.name, "status": "crashed", "reason": reason, "stages": stages,
            "matrix": dict(spec.matrix_values), "template": spec.template or spec.name, "log": log}
