"""Load fuzzed files through mxdeploy's loaders in this (child) process; one JSON line each.

    python tests/bad_inputs/fuzz_child.py KIND FOLDER N

KIND is yaml | symbol | params | onnx; FOLDER holds case files case-<i>.* (and, for symbol
and params, the other half of a checkpoint). Prints "START i" before each case, so a native
crash or a hang names the case that caused it, then {"i", "outcome"} where outcome is "ok",
"coded CODE" or "bad Type: message" (any exception that is not an MxdeployError).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def load(kind: str, folder: Path, i: int) -> None:
    if kind == "yaml":
        from pipeline.run.config import load_config

        load_config(folder / f"case-{i}.yaml")
    elif kind in ("symbol", "params"):
        from pipeline.model.bundle import TensorSpec
        from pipeline.model.resolve import load_checkpoint

        load_checkpoint(str(folder / f"case-{i}"), 0, [TensorSpec("data", (1, 8))])
    elif kind == "onnx":
        from pipeline.onnx.load import load_onnx

        load_onnx(folder / f"case-{i}.onnx", {"X": (1, 8)})
    else:
        raise SystemExit(f"unknown kind {kind}")


def main(argv: list[str]) -> int:
    from pipeline.core.errors import MxdeployError

    kind, folder, count = argv[0], Path(argv[1]), int(argv[2])
    for i in range(count):
        print(f"START {i}", flush=True)
        try:
            load(kind, folder, i)
            outcome = "ok"
        except MxdeployError as exc:
            outcome = f"coded {exc.code}"
        except Exception as exc:  # noqa: BLE001 - the point: report anything else as a finding
            outcome = f"bad {type(exc).__name__}: {str(exc)[:300]}"
        print(json.dumps({"i": i, "outcome": outcome}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
