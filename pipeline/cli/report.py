"""`pipeline report RUN_DIR [--baseline OTHER_RUN_DIR]`: re-render a run's reports, list regressions."""
from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table
from rich.text import Text

from pipeline.core.errors import UsageError
from pipeline.run.progress import stdout_console, summary_table
from pipeline.report.regress import compare_runs
from pipeline.report import write_reports

HELP = "re-render a run's report.md/report.html; with --baseline, list regressions (exit 1 if any)"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds report.json)")
    parser.add_argument("--baseline", metavar="OTHER_RUN_DIR", help="an earlier run to compare against")
    parser.add_argument("--latency-threshold", type=float, default=0.2, metavar="FRACTION",
                        help="p50 latency growth that counts as a regression (default 0.2 = +20%%)")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")


def load_report(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "report.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise UsageError("no report.json here", where=str(path), code="RPT001",
                         hint="give the --out folder of a finished 'pipeline run'") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"report.json is not valid JSON ({exc})", where=str(path), code="RPT002",
                         hint="re-run the pipelines") from None
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        raise UsageError("report.json has no 'pipelines' list", where=str(path), code="RPT002",
                         hint="re-run the pipelines")
    return data


def main(args) -> int:
    if args.latency_threshold < 0:
        raise UsageError("--latency-threshold must be >= 0", where="--latency-threshold")
    current = load_report(args.run_dir)
    write_reports(Path(args.run_dir), current)
    console = stdout_console()
    if not args.baseline:
        console.print(summary_table(current))
        return 0
    changes = compare_runs(load_report(args.baseline), current, latency_threshold=args.latency_threshold)
    regressions = [c for c in changes if c.regression]
    if args.json:
        print(json.dumps({"regressions": len(regressions), "changes": [c.to_dict() for c in changes]}, indent=2))
    else:
        table = Table(title=Text(f"{args.run_dir} against {args.baseline}: {len(regressions)} regression(s)"))
        for col in ("cell", "change", "before", "after", "regression"):
            table.add_column(col)
        for c in changes:
            table.add_row(Text(c.cell), c.kind, Text(c.before), Text(c.after), "yes" if c.regression else "no")
        console.print(table)
    return 1 if regressions else 0
