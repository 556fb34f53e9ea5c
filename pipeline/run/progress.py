"""Progress of a run: a live rich display on a terminal, plain lines elsewhere (CI logs)."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipeline.report.markdown import STATUS_MARK, cell_row


class ProgressView:
    """Receives runner events: a bar over cells plus one row per running cell with its stage.

    On a terminal the rows of finished cells are removed, so a 68-cell zoo run stays one
    screen; elsewhere (CI logs) each event is one plain line.
    """

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self._tasks: dict[str, int] = {}
        self._overall: int | None = None
        self._done = 0
        self._total = 0
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                  console=self.console, transient=False) if self.live else None

    def __enter__(self):
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()

    def _plain(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def __call__(self, event) -> None:
        kind, name = event[0], event[1]
        if kind == "run_start":
            self._total = event[2]
            if self._progress is not None:
                self._overall = self._progress.add_task("cells", total=event[2])
        elif kind == "pipeline_start":
            if self._progress is not None:
                self._tasks[name] = self._progress.add_task(name, total=event[2])
            else:
                self._plain(f"[{name}] started")
        elif kind == "stage_start":
            if self._progress is not None and name in self._tasks:
                self._progress.update(self._tasks[name], description=f"{name}: {event[3]}")
        elif kind == "stage_end":
            report = event[3]
            if self._progress is not None and name in self._tasks:
                self._progress.advance(self._tasks[name])
            elif self._progress is None:
                self._plain(f"[{name}] {event[2]:02d}-{report['name']} {report['status']} ({report['seconds']:.1f}s)")
        elif kind == "pipeline_end":
            self._done += 1
            if self._progress is not None:
                if name in self._tasks:
                    self._progress.remove_task(self._tasks.pop(name))
                if self._overall is not None:
                    self._progress.advance(self._overall)
                self._progress.console.print(f"{name}: {STATUS_MARK.get(event[2], event[2])}", highlight=False,
                                             markup=False)
            else:
                self._plain(f"[{name}] {event[2]} ({self._done}/{self._total or '?'} cells)")


def summary_table(result: dict) -> Table:
    table = Table(title=f"run {result['run_id']} ({result['seconds']:.1f} s)")
    for col in ("pipeline", "status", "target", "max abs err", "p50 ms", "first problem"):
        table.add_column(col)
    for p in result["pipelines"]:
        row = cell_row(p)
        problem = f"{row['failed_stage']}: {row['code']} {row['problem']}" if row["failed_stage"] else row["problem"]
        table.add_row(Text(row["name"]), STATUS_MARK.get(row["status"], row["status"]), Text(row["target"] or "–"),
                      f"{row['max_abs_err']:.2e}" if isinstance(row["max_abs_err"], (int, float)) else "–",
                      f"{row['p50_ms']:.2f}" if isinstance(row["p50_ms"], (int, float)) else "–", Text(problem))
    return table


def stdout_console() -> Console:
    return Console(file=sys.stdout, width=max(100, Console().width))
