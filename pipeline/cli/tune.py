"""`pipeline tune MODEL [--input NAME=D1,...]... [--target NAME]... [--json]`: the fastest correct CPU deployment.

Deploys MODEL (a zoo name, a checkpoint prefix or an .onnx file) on every available target x
precision, guards each against fp32 on held-out random inputs and times it (pipeline/precision/tuning.py);
prints the whole table and the choice, or with --json exactly DESIGN.md's object. Exit 0 when a
deployment passed, 1 when none did. Each candidate runs in its own child process: one that
crashes natively is a row with status `crashed` and tuning goes on.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.table import Table

from pipeline.core.errors import UsageError
from pipeline.run.progress import stdout_console
from pipeline.model.resolve import load_model, parse_input_arg

HELP = "deploy on every target x precision, verify each, pick the fastest that passes the accuracy guard"
EXIT_CHOICE, EXIT_NONE = 0, 1


def add_arguments(parser) -> None:
    from pipeline.precision.tuning import TuneSettings

    d = TuneSettings()
    parser.add_argument("model", metavar="MODEL", help="model zoo name, checkpoint prefix or .onnx file")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=D1,D2,...[:OPTS]",
                        help="an input shape[:dtype][:low..high][:int][:batch=A][:dyn=A,..] (docs/stages.md, Inputs)")
    parser.add_argument("--holdout", type=int, default=d.holdout, help="held-out random inputs the guard checks")
    parser.add_argument("--samples", type=int, default=d.samples, help="random calibration inputs for int8")
    parser.add_argument("--runs", type=int, default=d.runs, help="timed forwards per deployment")
    parser.add_argument("--min-cosine", type=float, default=d.min_cosine, help="guard: least cosine per input")
    parser.add_argument("--max-rel-err", type=float, default=d.max_rel_err, help="guard: largest relative error")
    parser.add_argument("--target", action="append", default=[], metavar="NAME",
                        help="try only this target (repeat for more); default: every available one")
    parser.add_argument("--json", action="store_true", help="print one JSON object (see DESIGN.md)")
    parser.add_argument("--work-dir", metavar="DIR", type=Path,
                        help="keep each candidate's files and log.txt in DIR/TARGET-PRECISION (default: a temp "
                             "folder removed at exit; the logs of candidates that did not pass are kept)")


def main(args) -> int:
    from pipeline.precision.tuning import TuneSettings, available_candidates, tune
    from pipeline.targets import TARGETS

    for name in args.target:
        TARGETS.get(name)  # an unknown name is REG001 with a did-you-mean, before any model loads
    candidates = [c for c in available_candidates() if not args.target or c[0] in args.target]
    if not candidates:
        raise UsageError(f"no available deployment to tune on {', '.join(args.target)}", where="--target",
                         hint="name a target that is installed here and that tune tries (see `pipeline targets`)")
    specs = [parse_input_arg(text) for text in args.input]
    bundle = load_model(args.model, specs or None)
    settings = TuneSettings(samples=args.samples, holdout=args.holdout, runs=args.runs,
                            min_cosine=args.min_cosine, max_rel_err=args.max_rel_err)

    def progress(target, precision):
        if not args.json:
            print(f"tuning {target} {precision} ...", file=sys.stderr, flush=True)

    result = tune(bundle, settings=settings, progress=progress, candidates=candidates,
                  work_dir=args.work_dir.resolve() if args.work_dir else None)
    if args.json:
        print(json.dumps(result.to_json(args.model)))
    else:
        _print_table(args.model, result)
    return EXIT_CHOICE if result.choice is not None else EXIT_NONE


def _fmt(value) -> str:
    return "-" if value is None else f"{value:g}"


def _print_table(model: str, result) -> None:
    console = stdout_console()
    if not sys.stdout.isatty():  # a log or a pipe: one line per candidate, never a wrapped cell
        for r in result.rows:
            mark = " (chosen)" if r is result.choice else ""
            figures = f" p50 {_fmt(r.p50_ms)} ms, p90 {_fmt(r.p90_ms)} ms, cosine {_fmt(r.cosine)}, " \
                      f"max rel err {_fmt(r.max_rel_err)}, top-1 {_fmt(r.top1_agreement)}" if r.p50_ms is not None else ""
            detail = f": {r.detail}" if r.detail else ""
            print(" ".join(f"{r.target} {r.precision} {r.status}{mark}{figures}{detail}".split()))
        print(" ".join(f"choice: {result.reason}".split()))
        return
    table = Table(title=f"{model}: deployments (guard against fp32 on MXNet's executor)")
    for col in ("target", "precision", "status", "p50 ms", "p90 ms", "cosine", "max rel err", "top-1 agr."):
        table.add_column(col, no_wrap=True)
    table.add_column("detail", overflow="fold")
    for r in result.rows:
        mark = " *" if r is result.choice else ""
        table.add_row(r.target, r.precision, r.status + mark, _fmt(r.p50_ms), _fmt(r.p90_ms), _fmt(r.cosine),
                      _fmt(r.max_rel_err), _fmt(r.top1_agreement), r.detail)
    console.print(table)
    console.print(f"choice: {result.reason}", markup=False)
