"""`pipeline check MODEL --target T`: compatibility diagnostics without running a pipeline.

MODEL is a model zoo name, a checkpoint prefix or an .onnx file. `--input NAME=D1,D2,...`
declares an input's shape; giving the same input again declares another shape the model will
be served with (the shapes rule counts one model copy per shape). On a terminal the findings
are a table; piped or logged, one line each (`CODE severity [node]: message (fix: hint)`). Exit 0 when there is no
error, 1 when there is one, 2 for bad usage or a model that cannot be loaded (the CLI maps
UsageError, ModelError and friends to 2); with `--json` that last case still prints one JSON
object, `{"model", "target", "error": {code, message, where, hint}, "diagnostics": []}`, on stdout.
A runtime's full text goes to `--log` (see pipeline/cli/runtime_log.py), never to the terminal
unless `--debug`.
"""
from __future__ import annotations

import json
import sys

from rich.table import Table

from pipeline.cli.runtime_log import runtime_log
from pipeline.core.errors import MxdeployError
from pipeline.run.progress import stdout_console
from pipeline.model.resolve import load_model, parse_input_arg
from pipeline.targets import TARGETS  # (pipeline/targets/__init__.py registers every target, the eia sizes too)
from pipeline.core.diagnostics import has_errors

HELP = "compatibility diagnostics of a model for a target"
EXIT_OK, EXIT_ERRORS = 0, 1


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model zoo name, checkpoint prefix or .onnx file")
    parser.add_argument("--target", required=True, help="target to check against, e.g. eia1.medium or cpu")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=D1,D2,...[:OPTS]",
                        help="an input shape[:dtype][:low..high][:int][:batch=A][:dyn=A,..] (docs/stages.md, Inputs); "
                             "repeat a name to declare another shape it is served with")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument("--json", action="store_true", help="print one JSON object (see DESIGN.md)")
    parser.add_argument("--log", metavar="FILE",
                        help="where a runtime's full text goes when it refuses the model (default: a file in the "
                             "temp folder, named in the finding); --debug also prints it")


def split_inputs(texts: list[str]):
    """Declared inputs (first shape of each name) and the extra feeds (later shapes)."""
    declared, extra = {}, []
    for text in texts:
        spec = parse_input_arg(text)
        if spec.name not in declared:
            declared[spec.name] = spec
        else:
            extra.append({spec.name: spec.shape})
    return list(declared.values()), extra


def main(args) -> int:
    with runtime_log("check", args.log, debug=getattr(args, "debug", False)) as log:
        try:
            report, errors = _check(args)
        except MxdeployError as exc:
            exc.hint = log.named(exc.hint)
            if args.json:  # a model that cannot be loaded: still one JSON document, then the one line
                print(json.dumps({"model": args.model, "target": args.target, "error": exc.to_dict(),
                                  "diagnostics": []}))
            raise
    from pipeline.checks.runtime import RUNTIME_CODES

    for d in report["diagnostics"]:
        d["hint"] = log.named(d["hint"], runtime=d["code"] in RUNTIME_CODES)
    if log.written():
        report["log"] = str(log.path)
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report)
    return EXIT_ERRORS if errors else EXIT_OK


def _check(args) -> tuple[dict, bool]:
    from pipeline.checks.report import check, check_report
    from pipeline.checks.subject import CheckSubject

    target = TARGETS.get(args.target)
    inputs, extra = split_inputs(args.input)
    bundle = load_model(args.model, inputs or None)
    subject = CheckSubject(bundle=bundle, target=target, extra_shapes=tuple(extra))
    diagnostics = check(subject, strict_mode=args.strict)
    return check_report(args.model, subject, diagnostics), has_errors(diagnostics)


def _print_table(report: dict) -> None:
    console = stdout_console()
    memory = report["memory"]
    needed = "unknown" if memory["bytes"] is None else f"{memory['bytes'] / (1 << 20):.1f} MiB"
    header = (f"{report['model']} on {report['target']}: needs {needed}; "
              f"smallest accelerator that fits: {memory['smallest_fit'] or 'none'}")
    if not sys.stdout.isatty():
        print(header)
    else:
        console.print(header, markup=False)
    if not report["diagnostics"]:
        console.print("no findings", markup=False)
        return
    if not sys.stdout.isatty():  # a log or a pipe: one grep-able line per finding, never a wrapped cell
        for d in report["diagnostics"]:
            node = f" [{d['node']}]" if d["node"] else ""
            fix = f" (fix: {d['hint']})" if d["hint"] else ""
            print(" ".join(f"{d['code']} {d['severity']}{node}: {d['message']}{fix}".split()))
        return
    table = Table(show_lines=False)
    for col in ("code", "severity", "node", "message", "fix"):
        table.add_column(col, overflow="fold")
    for d in report["diagnostics"]:
        table.add_row(d["code"], d["severity"], d["node"], d["message"], d["hint"])
    console.print(table)
