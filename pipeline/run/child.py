"""Run one function call in a supervised child process: a native crash costs the call, not the caller.

`pipeline tune` and `deploy: {target: auto}` build and time each candidate this way
(pipeline/precision/tuning.py): a runtime that aborts or segfaults on one candidate (OpenVINO on
a QDQ graph) would otherwise end the whole command. It is the cell worker's protocol in small
(pipeline/run/worker.py, executors/supervise.py): a plain `python -m pipeline.run.child`
subprocess in its own process group, the call's pickled arguments in a file written by this
process (never by a model), its stdout/stderr and the runtime's raw error text in a log file,
the crash breadcrumb (pipeline/core/activity.py) beside it, the pickled outcome in a result
file. The child dies with its parent and is killed, group and all, on timeout.

The callee is named by import path (`"pipeline.precision.tuning:evaluate_candidate"`), so the
child imports it without the caller's objects; plugins (MXDEPLOY_PLUGINS) are loaded first, so
a plugin's target can be a candidate.
"""
from __future__ import annotations

import importlib
import os
import pickle
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import activity
from pipeline.core.errors import MxdeployError
from pipeline.core.runtime_errors import LOG_ENV, first_error_line

ARGS_FILE, RESULT_FILE, LOG_FILE, ACTIVITY_FILE = "call.pkl", "outcome.pkl", "log.txt", "activity.json"


@dataclass
class Outcome:
    """How the call ended: `ok` (value), `error` (a coded error, or our bug as RUN002) or `crashed`."""

    status: str
    value: object = None
    code: str = ""
    message: str = ""
    log: str = ""

    @property
    def reason(self) -> str:
        return f"{self.code} {self.message}"


def call_in_child(func: str, *args, folder: Path, timeout: float | None = None) -> Outcome:
    """`func(*args)` in a child process whose files go to `folder` (created); see the module docstring."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (RESULT_FILE, ACTIVITY_FILE):
        (folder / name).unlink(missing_ok=True)
    with open(folder / ARGS_FILE, "wb") as fh:
        pickle.dump((func, args), fh, protocol=pickle.HIGHEST_PROTOCOL)
    log = folder / LOG_FILE
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.run.child", str(folder), str(os.getpid())],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return _crashed(f"timed out after {timeout:g} s", folder)
    finally:
        (folder / ARGS_FILE).unlink(missing_ok=True)
    result = folder / RESULT_FILE
    if code == 0 and result.is_file():
        with open(result, "rb") as fh:
            outcome = pickle.load(fh)  # written by our own child process, never by a model
        result.unlink()
        outcome.log = str(log)
        return outcome
    if code < 0:
        try:
            reason = f"the process was killed by {signal.Signals(-code).name}"
        except ValueError:
            reason = f"the process was killed by signal {-code}"
    else:
        reason = f"the process exited with status {code} without a result"
    return _crashed(reason, folder)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _crashed(reason: str, folder: Path) -> Outcome:
    crumb = activity.read(folder / ACTIVITY_FILE)
    return Outcome("crashed", code="TUN103", message=f"{reason}{activity.describe(crumb)}; its log: {folder / LOG_FILE}",
                   log=str(folder / LOG_FILE))


def main(argv: list[str]) -> int:
    """Child entry point: load plugins, run the call, pickle its Outcome."""
    folder, parent = Path(argv[0]), int(argv[1])
    from pipeline.run.orphans import die_with_parent  # the same watch a cell worker runs

    die_with_parent(parent)
    os.environ[LOG_ENV] = str(folder / LOG_FILE)
    os.environ[activity.ENV] = str(folder / ACTIVITY_FILE)
    from pipeline.core.plugins import load_plugins

    load_plugins()
    with open(folder / ARGS_FILE, "rb") as fh:
        func, args = pickle.load(fh)  # written by our parent, never by a model file
    module, _, name = func.partition(":")
    try:
        outcome = Outcome("ok", getattr(importlib.import_module(module), name)(*args))
    except MxdeployError as exc:
        outcome = Outcome("error", code=exc.code, message=f"{exc.where}: {exc.message}" if exc.where else exc.message)
    except Exception as exc:  # noqa: BLE001 - our own bug: the traceback goes to the log, the call reports RUN002
        traceback.print_exc()
        outcome = Outcome("error", code="RUN002",
                          message=f"internal error: {type(exc).__name__}: {first_error_line(exc)} (a bug in mxdeploy; "
                                  f"the traceback is in {folder / LOG_FILE})")
    tmp = folder / f".{RESULT_FILE}.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(outcome, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, folder / RESULT_FILE)
    return 0


if __name__ == "__main__":
    # run the imported module's main, so the pickled Outcome is pipeline.run.child.Outcome, not __main__'s
    from pipeline.run.child import main as _main

    sys.exit(_main(sys.argv[1:]))
