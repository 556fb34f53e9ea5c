"""Helpers for the accelerator tests: a tiny model and child-process servers (not a test module)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
PYTHON = sys.executable


class TinyModel:
    """FullyConnected(8 -> 4) + relu: small enough that 16 x 200 forwards take seconds."""

    def __init__(self, seed: int = 0):
        import mxnet as mx

        rng = np.random.RandomState(seed)
        self.weight = rng.randn(4, 8).astype(np.float32)
        self.bias = rng.randn(4).astype(np.float32)
        data = mx.sym.var("data")
        self.symbol = mx.sym.relu(mx.sym.FullyConnected(data, num_hidden=4, name="fc"), name="out")
        self.symbol_json = self.symbol.tojson()
        self.params = {"arg:fc_weight": self.weight, "arg:fc_bias": self.bias}

    def reference(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ self.weight.T + self.bias, 0)


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("MXDEPLOY_ACCELERATOR", None)
    return env


def spawn_server(tmp_path: Path, port: int = 0, size: str = "eia1.medium", token: str = "secret"):
    """`pipeline accelerator serve` in a child process; returns (proc, (host, port))."""
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    log = open(tmp_path / f"server-{time.monotonic_ns()}.log", "wb")
    proc = subprocess.Popen([PYTHON, "-m", "pipeline.cli.accelerator", "serve", "--size", size,
                             "--port", str(port), "--token-file", str(token_file)],
                            stdout=subprocess.PIPE, stderr=log, env=child_env(), cwd=ROOT)
    line = proc.stdout.readline().decode()
    match = re.search(r"listening on (\S+):(\d+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, (match.group(1), int(match.group(2)))
