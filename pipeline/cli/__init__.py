"""The `pipeline` command: each subcommand is a module of this package, listed in COMMANDS.

Every failure a user can cause is an `MxdeployError`, printed as one line with its code and a
non-zero exit; `--debug` adds the traceback. Anything else is a bug: it is printed as one line
too (INT001, the exception type and message) with the hint to re-run with --debug for the
traceback, exit 3. No traceback ever reaches the user unless they ask for it.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from pipeline.core.errors import ConfigError, MxdeployError, UsageError

# name -> module; each module has `add_arguments(parser)`, `main(args) -> int` and `HELP`.
COMMANDS = {
    "run": "pipeline.cli.run",
    "validate": "pipeline.cli.validate",
    "stages": "pipeline.cli.stages",
    "check": "pipeline.cli.check",
    "convert": "pipeline.cli.convert",
    "tune": "pipeline.cli.tune",
    "compare": "pipeline.cli.compare",
    "report": "pipeline.cli.report",
    "accelerator": "pipeline.cli.accelerator",
}
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class _Parser(argparse.ArgumentParser):
    """argparse that raises a coded UsageError instead of printing usage and exiting."""

    def error(self, message):
        raise UsageError(message, where=self.prog, hint=f"see '{self.prog} --help'")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pipeline", description="Convert, check, deploy and verify MXNet models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "command", None):
            raise UsageError("no command given", where="pipeline", hint="see 'pipeline --help'")
        register_stages()
        return int(args._module.main(args))
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_USAGE
    except MxdeployError as exc:
        print(exc.one_line(), file=sys.stderr)
        if debug:
            if getattr(exc, "detail", ""):  # a runtime's full text (pipeline/core/runtime_errors.py)
                print(exc.detail, file=sys.stderr)
            traceback.print_exc()
        return getattr(exc, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pipeline ... | head`: the reader left; nothing to report
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - an internal bug (InternalError or anything unexpected)
        print(internal_error_line(exc, debug), file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_INTERNAL


def register_stages() -> None:
    """The CLI's registration entry point: the built-in stages, then MXDEPLOY_PLUGINS.

    The engine never imports `stages` elsewhere (docs/architecture.md); the worker's entry
    point (pipeline/run/worker.py) does the same for its own process.
    """
    import stages  # noqa: F401
    from pipeline.core.plugins import load_plugins

    load_plugins()


def internal_error_line(exc: BaseException, debug: bool) -> str:
    """One line for a bug: code, type, the first line of its message, and how to get more."""
    from pipeline.core.runtime_errors import first_error_line

    text = first_error_line(exc) if str(exc).strip() else ""
    line = f"INT001 internal error in mxdeploy: {type(exc).__name__}" + (f": {text}" if text else "")
    if not debug:
        line += " (a bug: re-run with --debug for the traceback and report it)"
    return line


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


