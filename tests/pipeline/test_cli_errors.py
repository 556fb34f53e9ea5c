"""The CLI: one coded line for every failure; a traceback only with --debug."""
from __future__ import annotations

import types

import pytest

from pipeline import cli


@pytest.fixture
def broken_command(monkeypatch):
    module = types.ModuleType("broken")
    module.HELP = "a command with a bug"
    module.add_arguments = lambda parser: None

    def main(args):
        return {}["nodes"]  # an internal bug: KeyError

    module.main = main
    monkeypatch.setitem(cli.COMMANDS, "broken", "broken")
    monkeypatch.setitem(__import__("sys").modules, "broken", module)


def test_an_internal_bug_is_one_coded_line_and_exit_3(broken_command, capsys):
    assert cli.main(["broken"]) == 3
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "INT001 internal error in mxdeploy: KeyError: 'nodes' (a bug: re-run with --debug for the traceback and report it)"]


def test_debug_adds_the_traceback(broken_command, capsys):
    assert cli.main(["broken", "--debug"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("INT001 internal error in mxdeploy: KeyError") and "Traceback (most recent call last)" in err


def test_user_errors_stay_one_line_with_their_exit(capsys):
    assert cli.main(["check", "model", "--target", "cpu", "--input", "x=1,y"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
