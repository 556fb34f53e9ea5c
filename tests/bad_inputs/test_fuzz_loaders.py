"""Fuzzing the loaders: truncations, bit flips and splices of valid YAML, symbol JSON, params
and ONNX files. Every outcome must be a clean load or an MxdeployError: never another
exception, a hang or a native crash. Each hypothesis example is a batch of mutations loaded
in one child process (fuzz_child.py), so a segfault fails the test instead of killing pytest.

The default run keeps example counts small (about a minute in all); `--run-slow` runs the
`slow` variant with many more.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from make_corpus import GOOD_YAML, write_mlp, write_onnx  # noqa: E402

CHILD_TIMEOUT = 240


def _mutation():
    """(kind, a, b, c) applied by `mutate` to a byte string; positions are fractions of its length."""
    frac = st.floats(0, 1, allow_nan=False)
    return st.one_of(
        st.tuples(st.just("truncate"), frac, st.just(0.0), st.just(0)),
        st.tuples(st.just("flip"), frac, st.just(0.0), st.integers(0, 7)),
        st.tuples(st.just("splice"), frac, frac, st.integers(1, 64)),
        st.tuples(st.just("delete"), frac, st.just(0.0), st.integers(1, 64)),
        st.tuples(st.just("zero_tail"), frac, st.just(0.0), st.just(0)),
        st.tuples(st.just("byte"), frac, st.just(0.0), st.integers(0, 255)),
    )


def mutate(data: bytes, steps) -> bytes:
    buf = bytearray(data)
    for kind, a, b, c in steps:
        if not buf:
            break
        at = min(int(a * len(buf)), len(buf) - 1)
        if kind == "truncate":
            del buf[at:]
        elif kind == "flip":
            buf[at] ^= 1 << c
        elif kind == "splice":  # copy a chunk from elsewhere over this place
            src = min(int(b * len(buf)), len(buf) - 1)
            buf[at:at + c] = buf[src:src + c]
        elif kind == "delete":
            del buf[at:at + c]
        elif kind == "zero_tail":
            buf[at:] = bytes(len(buf) - at)
        elif kind == "byte":
            buf[at] = c
    return bytes(buf)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    prefix = write_mlp(folder)
    onnx_path = write_onnx(folder / "good.onnx")
    return {"yaml": GOOD_YAML.encode(), "symbol": Path(f"{prefix}-symbol.json").read_bytes(),
            "params": Path(f"{prefix}-0000.params").read_bytes(), "onnx": onnx_path.read_bytes(),
            "folder": folder}


def run_batch(kind: str, seeds: dict, batch: list, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    seed_mlp = seeds["folder"] / "mlp"
    for i, steps in enumerate(batch):
        data = mutate(seeds[kind], steps)
        if kind == "yaml":
            (folder / f"case-{i}.yaml").write_bytes(data)
            shutil.copy(f"{seed_mlp}-symbol.json", folder / "mlp-symbol.json")
            shutil.copy(f"{seed_mlp}-0000.params", folder / "mlp-0000.params")
        elif kind == "symbol":
            (folder / f"case-{i}-symbol.json").write_bytes(data)
            (folder / f"case-{i}-0000.params").write_bytes(seeds["params"])
        elif kind == "params":
            (folder / f"case-{i}-symbol.json").write_bytes(seeds["symbol"])
            (folder / f"case-{i}-0000.params").write_bytes(data)
        else:
            (folder / f"case-{i}.onnx").write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(HERE / "fuzz_child.py"), kind, str(folder), str(len(batch))],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{kind}: a case hung; last started: {_last_started(out)}; steps: {batch[_last_started(out)]}")
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or len(results) != len(batch):
        last = _last_started(out)
        pytest.fail(f"{kind}: the child died (rc {proc.returncode}) on case {last}: steps {batch[last]}\n{err[-3000:]}")
    bad = [(r["i"], r["outcome"], batch[r["i"]]) for r in results if r["outcome"].startswith("bad")]
    assert not bad, f"{kind}: uncoded failures:\n" + "\n".join(map(str, bad))


def _last_started(out: str) -> int:
    started = [int(line.split()[1]) for line in out.splitlines() if line.startswith("START ")]
    return started[-1] if started else 0


BATCH = st.lists(st.lists(_mutation(), min_size=1, max_size=3), min_size=40, max_size=40)
FAST = settings(max_examples=2, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("kind", ["yaml", "symbol", "params", "onnx"])
def test_fuzzed_files_load_or_raise_coded_errors(kind, seeds, tmp_path):
    @FAST
    @given(batch=BATCH)
    def check(batch):
        run_batch(kind, seeds, batch, tmp_path / "cases")

    check()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["yaml", "symbol", "params", "onnx"])
def test_fuzzed_files_slow(kind, seeds, tmp_path):
    @SLOW
    @given(batch=BATCH)
    def check(batch):
        run_batch(kind, seeds, batch, tmp_path / "cases")

    check()
