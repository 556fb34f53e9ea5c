"""Helpers of the localization tests: run the CLI in-process and capture what it prints."""
from __future__ import annotations

import contextlib
import io

from pipeline.cli import main

SHAPE = "data=1,3,64,64"


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()
