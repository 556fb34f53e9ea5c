"""Run corpus cases through `pipeline.cli.main` in this (child) process, one after another.

Both stdout and stderr are captured at the file-descriptor level, so MXNet's native messages
(a C++ stack dump, a `[bt]` frame) are seen too. Prints one JSON line per case to the real
stdout: {"id", "exit", "stderr", "stdout"}. A native crash kills this process; the parent test
sees the missing lines and names the case that was running.

    python tests/bad_inputs/corpus_child.py CASES_JSON ID...
"""
from __future__ import annotations

import json
import os
import sys
import tempfile


def run_case(case: dict) -> dict:
    from pipeline import cli

    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        try:
            code = cli.main(list(case["argv"]))
        except SystemExit as exc:  # never expected: cli.main returns codes
            code = f"SystemExit({exc.code})"
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])
        out.seek(0), err.seek(0)
        return {"id": case["id"], "exit": code, "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")}


def main(argv: list[str]) -> int:
    cases = {c["id"]: c for c in json.loads(open(argv[0]).read())}
    for cid in argv[1:]:
        print("START " + cid, flush=True)
        print(json.dumps(run_case(cases[cid])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
