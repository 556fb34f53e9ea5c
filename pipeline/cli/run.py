"""`pipeline run FILE`: validate, run every pipeline in its own worker, write the reports."""
from __future__ import annotations

from pathlib import Path

from pipeline.run.cache import DEFAULT_MAX_GB, default_cache_dir
from pipeline.run.config import load_config
from pipeline.core.errors import UsageError
from pipeline.run.executors import EXECUTORS
from pipeline.run.progress import ProgressView, stdout_console, summary_table
from pipeline.core.registry import did_you_mean
from pipeline.report import write_reports
from pipeline.run.runner import new_run_id, run_pipelines
from pipeline.run.worker import CellOptions

HELP = "run the pipelines of a pipelines.yaml file"
OK_STATUSES = ("passed", "cached")


def add_arguments(parser) -> None:
    parser.add_argument("file", help="the pipelines file (YAML)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this pipeline (or matrix family); repeatable")
    parser.add_argument("--out", metavar="DIR", help="run directory (default: runs/<run-id>)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="cells run at once by the local executor (default 1)")
    parser.add_argument("--executor", default="local", choices=EXECUTORS.names(),
                        help="where cells run: this machine (local) or a Dask cluster (dask)")
    parser.add_argument("--scheduler", metavar="ADDR", help="the Dask scheduler, tcp://HOST:PORT (with --executor dask)")
    parser.add_argument("--no-cache", action="store_true",
                        help="recompute every stage (fresh results still replace the cache entries)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help=f"stage cache folder (default: $MXDEPLOY_CACHE_DIR or {default_cache_dir()})")
    parser.add_argument("--cache-max-gb", type=float, metavar="GIB",
                        help=f"bound of the stage cache: least recently used entries beyond it are evicted "
                             f"after the run (default: $MXDEPLOY_CACHE_MAX_GB or {DEFAULT_MAX_GB:g})")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="per-cell time limit for cells whose config sets no 'timeout:'")
    parser.add_argument("--max-memory-gb", type=float, metavar="GIB",
                        help="kill a cell whose processes hold more resident memory than this (reported crashed)")


def _options(args) -> CellOptions:
    for flag, value in (("--timeout", args.timeout), ("--max-memory-gb", args.max_memory_gb),
                        ("--cache-max-gb", args.cache_max_gb)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be positive, got {value:g}", where=flag)
    if args.executor == "dask" and not args.scheduler:
        raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT", where="--scheduler",
                         hint="start one with 'dask scheduler' and pass its address")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is for --executor dask", where="--scheduler", hint="add --executor dask")
    cache_dir = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    return CellOptions(timeout=args.timeout, max_memory_gb=args.max_memory_gb,
                       cache_dir=str(cache_dir.resolve()), cache_read=not args.no_cache,
                       cache_max_gb=args.cache_max_gb)


def main(args) -> int:
    config = load_config(args.file)
    known = {p.name for p in config.pipelines} | {p.template for p in config.pipelines}
    for name in args.only:
        if name not in known:
            raise UsageError(f"no pipeline named '{name}'{did_you_mean(name, known)}", where=args.file,
                             hint=f"pipelines: {', '.join(sorted(known))}")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1", where="--jobs")
    options = _options(args)
    specs = config.select(args.only)
    run_id = new_run_id()
    run_dir = Path(args.out) if args.out else Path("runs") / run_id
    blocker = next((p for p in (run_dir, *run_dir.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise UsageError(f"'{blocker}' is a file, so the run directory cannot be created there", where="--out",
                         hint="give --out a folder path (new or an earlier run's)")
    with ProgressView() as view:
        result = run_pipelines(specs, run_dir, jobs=args.jobs, observer=view, run_id=run_id, executor=args.executor,
                               scheduler=args.scheduler, options=options).to_dict()
    paths = write_reports(run_dir, result)
    console = stdout_console()
    console.print(summary_table(result))
    console.print("report: " + "  ".join(str(p) for p in paths), highlight=False)
    return 0 if all(p["status"] in OK_STATUSES for p in result["pipelines"]) else 1
