"""`pipeline convert` killed with SIGKILL at random points over an existing destination.

After every kill the destination is the old model, nothing loadable, or the complete new
model: never a new graph beside old weights, never a partial file under the final name.
The final convert then completes and leaves no temp file.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mxnet as mx

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def _cmd(*args):
    return [sys.executable, "-m", "pipeline.cli", "convert", *args]


def _state(prefix: Path, old: dict) -> str:
    sym, params = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-0000.params")
    if not sym.exists():
        return "none"
    assert params.exists(), "a symbol file without its params"
    if sym.read_bytes() == old["symbol"]:
        assert params.read_bytes() == old["params"], "the old graph beside new weights"
        return "old"
    symbol, args, auxs = mx.model.load_checkpoint(str(prefix), 0)  # the new pair loads and fits
    shapes, _, _ = symbol.infer_shape(data=(1, 3, 224, 224))
    for name, shape in zip(symbol.list_arguments(), shapes):
        if name in args:
            assert args[name].shape == shape, name
    return "new"


def _onnx_state(path: Path, old: bytes) -> str:
    import onnx

    if not path.exists():
        return "none"
    data = path.read_bytes()
    if data == old:
        return "old"
    onnx.checker.check_model(onnx.load_from_string(data))
    return "new"


def test_sigkilled_converts_leave_the_old_model_or_a_whole_new_one(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dst = tmp_path / "model"
    onnx_dst = tmp_path / "model.onnx"

    def reset():
        for suffix in ("-symbol.json", "-0000.params"):
            shutil.copy(EXAMPLES / f"digits-mlp{suffix}", f"{dst}{suffix}")
        onnx_dst.write_bytes(b"old")

    reset()
    old = {"symbol": Path(f"{dst}-symbol.json").read_bytes(), "params": Path(f"{dst}-0000.params").read_bytes()}
    argvs = (_cmd("resnet18_v1", str(dst)), _cmd("resnet18_v1", str(onnx_dst)))
    durations = []
    for argv in argvs:  # how long a whole convert takes here: kills land at fractions of it
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        durations.append(time.perf_counter() - started)
    rng = random.Random(5)
    seen = set()
    for fraction in (0.15, 0.5, 0.8):
        reset()  # every kill lands on the old model
        for argv, duration, check in zip(argvs, durations, (lambda: _state(dst, old),
                                                            lambda: _onnx_state(onnx_dst, b"old"))):
            proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(duration * fraction * rng.uniform(0.8, 1.0))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            seen.add(check())
    for argv in argvs:
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _state(dst, old) == "new" and _onnx_state(onnx_dst, b"old") == "new"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert seen - {"new"}, seen  # the early kills (15% of a whole convert) land before completion
    assert seen <= {"old", "none", "new"}
