"""Progress of a run: a live rich display on a terminal, plain lines elsewhere (CI logs)."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.report import STATUS_MARK, first_problem


class ProgressView:
    """Receives runner events; one progress row per pipeline with its current stage."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self._tasks: dict[str, int] = {}
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed}/{task.total} stages"), TimeElapsedColumn(),
                                  console=self.console, transient=False) if self.live else None

    def __enter__(self):
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event) -> None:
        kind, name = event[0], event[1]
        if kind == "pipeline_start":
            if self._progress is not None:
                self._tasks[name] = self._progress.add_task(name, total=event[2])
            else:
                self.console.print(f"[{name}] started", highlight=False, markup=False)
        elif kind == "stage_start":
            if self._progress is not None and name in self._tasks:
                self._progress.update(self._tasks[name], description=f"{name}: {event[3]}")
        elif kind == "stage_end":
            report = event[3]
            if self._progress is not None and name in self._tasks:
                self._progress.advance(self._tasks[name])
            else:
                self.console.print(f"[{name}] {event[2]:02d}-{report['name']} {report['status']} "
                                   f"({report['seconds']:.1f}s)", highlight=False, markup=False)
        elif kind == "pipeline_end":
            if self._progress is not None and name in self._tasks:
                self._progress.update(self._tasks[name], description=f"{name}: {event[2]}")
            else:
                self.console.print(f"[{name}] {event[2]}", highlight=False, markup=False)


def summary_table(result: dict) -> Table:
    table = Table(title=f"run {result['run_id']} ({result['seconds']:.1f} s)")
    for col in ("pipeline", "status", "max abs err", "p50 ms", "first problem"):
        table.add_column(col)
    for p in result["pipelines"]:
        verify = next((s.get("metrics", {}) for s in p["stages"] if s["name"] == "verify"), {})
        err = verify.get("max_abs_err")
        p50 = verify.get("latency_ms", {}).get("p50")
        stage, problem = first_problem(p)
        if p["status"] == "crashed" and not problem:
            problem = p.get("reason", "")
        table.add_row(p["name"], STATUS_MARK.get(p["status"], p["status"]),
                      f"{err:.2e}" if isinstance(err, (int, float)) else "–",
                      f"{p50:.2f}" if isinstance(p50, (int, float)) else "–",
                      f"{stage}: {problem}" if stage else problem)
    return table


def stdout_console() -> Console:
    return Console(file=sys.stdout, width=max(100, Console().width))
