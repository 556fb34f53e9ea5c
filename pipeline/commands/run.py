"""`pipeline run FILE`: validate, run every pipeline in its own worker, write the reports."""
from __future__ import annotations

from pathlib import Path

from pipeline.config import load_config
from pipeline.errors import UsageError
from pipeline.progress import ProgressView, stdout_console, summary_table
from pipeline.registry import did_you_mean
from pipeline.report import write_reports
from pipeline.runner import new_run_id, run_pipelines

HELP = "run the pipelines of a pipelines.yaml file"
OK_STATUSES = ("passed", "cached")


def add_arguments(parser) -> None:
    parser.add_argument("file", help="the pipelines file (YAML)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this pipeline (or matrix family); repeatable")
    parser.add_argument("--out", metavar="DIR", help="run directory (default: runs/<run-id>)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="pipelines run at once (default 1)")


def main(args) -> int:
    config = load_config(args.file)
    known = {p.name for p in config.pipelines} | {p.template for p in config.pipelines}
    for name in args.only:
        if name not in known:
            raise UsageError(f"no pipeline named '{name}'{did_you_mean(name, known)}", where=args.file,
                             hint=f"pipelines: {', '.join(sorted(known))}")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1", where="--jobs")
    specs = config.select(args.only)
    run_id = new_run_id()
    run_dir = Path(args.out) if args.out else Path("runs") / run_id
    with ProgressView() as view:
        result = run_pipelines(specs, run_dir, jobs=args.jobs, observer=view, run_id=run_id).to_dict()
    json_path, md_path = write_reports(run_dir, result)
    console = stdout_console()
    console.print(summary_table(result))
    console.print(f"report: {json_path}  {md_path}", highlight=False)
    return 0 if all(p["status"] in OK_STATUSES for p in result["pipelines"]) else 1
