"""What a run says: report.json/report.md (markdown), report.html and regressions between runs."""
from __future__ import annotations

from pathlib import Path

from pipeline.core import atomic
from pipeline.report.html import render_html
from pipeline.report.markdown import render_markdown


def write_reports(run_dir: Path, result: dict) -> tuple[Path, Path, Path]:
    """report.json (the contract), report.md and report.html, each written atomically."""
    run_dir = Path(run_dir)
    atomic.write_json(run_dir / "report.json", result)
    atomic.write_text(run_dir / "report.md", render_markdown(result))
    atomic.write_text(run_dir / "report.html", render_html(result))
    return run_dir / "report.json", run_dir / "report.md", run_dir / "report.html"


__all__ = ["render_html", "render_markdown", "write_reports"]
