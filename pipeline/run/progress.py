"""Progress of a run: a live rich display on a terminal, plain lines elsewhere (CI logs)."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipeline.report.markdown import STATUS_MARK, cell_row, target_text
from pipeline.run.events import Event, PipelineEnd, PipelineStart, RunStart, StageEnd, StageStart


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

    def __call__(self, event: Event) -> None:
        live = self._progress
        if isinstance(event, RunStart):
            self._total = event.cells
            if live is not None:
                self._overall = live.add_task("cells", total=event.cells)
        elif isinstance(event, PipelineStart):
            if live is not None:
                self._tasks[event.pipeline] = live.add_task(event.pipeline, total=event.stages)
            else:
                self._plain(f"[{event.pipeline}] started")
        elif isinstance(event, StageStart):
            if live is not None and event.pipeline in self._tasks:
                live.update(self._tasks[event.pipeline], description=f"{event.pipeline}: {event.stage}")
        elif isinstance(event, StageEnd):
            report = event.report
            if live is not None and event.pipeline in self._tasks:
                live.advance(self._tasks[event.pipeline])
            elif live is None:
                self._plain(f"[{event.pipeline}] {event.index:02d}-{report['name']} {report['status']} "
                            f"({report['seconds']:.1f}s)")
        elif isinstance(event, PipelineEnd):
            self._done += 1
            if live is not None:
                if event.pipeline in self._tasks:
                    live.remove_task(self._tasks.pop(event.pipeline))
                if self._overall is not None:
                    live.advance(self._overall)
                live.console.print(f"{event.pipeline}: {STATUS_MARK.get(event.status, event.status)}",
                                   highlight=False, markup=False)
            else:
                self._plain(f"[{event.pipeline}] {event.status} ({self._done}/{self._total or '?'} cells)")


def summary_table(result: dict) -> Table:
    table = Table(title=f"run {result['run_id']} ({result['seconds']:.1f} s)")
    for col in ("pipeline", "status", "target", "max abs err", "p50 ms", "first problem"):
        table.add_column(col)
    for p in result["pipelines"]:
        row = cell_row(p)
        problem = f"{row['failed_stage']}: {row['code']} {row['problem']}" if row["failed_stage"] else row["problem"]
        table.add_row(Text(row["name"]), STATUS_MARK.get(row["status"], row["status"]), Text(target_text(row) or "–"),
                      f"{row['max_abs_err']:.2e}" if isinstance(row["max_abs_err"], (int, float)) else "–",
                      f"{row['p50_ms']:.2f}" if isinstance(row["p50_ms"], (int, float)) else "–", Text(problem))
    return table


def stdout_console() -> Console:
    return Console(file=sys.stdout, width=max(100, Console().width))
