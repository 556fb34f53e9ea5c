"""Fuzzing the loaders: truncations, bit flips and splices of valid YAML, symbol JSON, params
and ONNX files, plus structure-aware edits (a JSON/YAML leaf replaced or deleted, an ONNX
field changed) that get past the parsers into the validation and the importer. Every outcome must be a clean load or an MxdeployError: never another
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


WORDS = ["relu", "FullyConnected", "null", "", "(2, 2)", "1e9", "-1", "data", "fc1", "arg:x", "0", "True",
         "Relux", "X", "W", "B", "XW", "com.example", "../w.data", "/etc/passwd", "w.data", "ai.onnx"]


def _value():
    return st.one_of(st.integers(-3, 40), st.sampled_from(WORDS), st.just(None), st.just([]), st.just({}),
                     st.lists(st.integers(-1, 12), max_size=3))


def _json_edit():
    """Replace or delete one leaf of the parsed JSON/YAML document (structure-aware, reaches past the parser)."""
    return st.tuples(st.sampled_from(["set", "delete", "swap"]), st.floats(0, 1, allow_nan=False), _value())


def _leaves(doc, path=()):
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield path + (key,)
            yield from _leaves(value, path + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield path + (i,)
            yield from _leaves(value, path + (i,))


def edit_document(doc, edits):
    for kind, where, value in edits:
        paths = list(_leaves(doc))
        if not paths:
            break
        path = paths[min(int(where * len(paths)), len(paths) - 1)]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if kind == "set":
            parent[key] = value
        elif kind == "delete":
            del parent[key]
        elif isinstance(parent, list) and len(parent) > 1:  # swap with its neighbour
            other = (key + 1) % len(parent)
            parent[key], parent[other] = parent[other], parent[key]
    return doc


def _onnx_edit():
    return st.tuples(st.sampled_from(["dims", "raw", "dtype", "op", "input", "opset", "external", "drop_init",
                                      "input_dim", "attr", "domain"]),
                     st.integers(0, 3), st.integers(-2, 300), st.sampled_from(WORDS))


def edit_onnx(data: bytes, edits) -> bytes:
    """Field-level edits of the ModelProto, so the importer (not only protobuf) sees damage."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(data)
    g = model.graph
    for kind, k, n, word in edits:
        inits, nodes = list(g.initializer), list(g.node)
        init, node = inits[k % len(inits)] if inits else None, nodes[k % len(nodes)] if nodes else None
        if kind == "dims" and init is not None and init.dims:
            init.dims[k % len(init.dims)] = n
        elif kind == "raw" and init is not None:
            init.raw_data = init.raw_data[:max(n, 0)]
        elif kind == "dtype" and init is not None:
            init.data_type = n % 25
        elif kind == "op" and node is not None:
            node.op_type = word or "Relu"
        elif kind == "input" and node is not None and node.input:
            node.input[k % len(node.input)] = word
        elif kind == "opset":
            model.opset_import[0].version = n
        elif kind == "external" and init is not None:
            init.data_location = onnx.TensorProto.EXTERNAL
            entry = init.external_data.add()
            entry.key, entry.value = ("location", word) if n % 2 else ("offset", str(n))
        elif kind == "drop_init" and init is not None:
            g.initializer.remove(init)
        elif kind == "input_dim" and g.input:
            dim = g.input[0].type.tensor_type.shape.dim
            if dim:
                if n % 3 == 0:
                    dim[k % len(dim)].dim_param = word or "N"
                else:
                    dim[k % len(dim)].dim_value = n
        elif kind == "attr" and node is not None:
            node.attribute.append(helper.make_attribute(word or "axis", n))
        elif kind == "domain" and node is not None:
            node.domain = word
    return model.SerializeToString()


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
    for i, (layer, steps) in enumerate(batch):
        data = _apply(kind, seeds[kind], layer, steps)
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


def _apply(kind: str, seed: bytes, layer: str, steps) -> bytes:
    import json

    import yaml

    if layer == "bytes":
        return mutate(seed, steps)
    if kind == "onnx":
        return edit_onnx(seed, steps)
    if kind == "symbol":
        return json.dumps(edit_document(json.loads(seed), steps)).encode()
    if kind == "yaml":
        return yaml.safe_dump(edit_document(yaml.safe_load(seed), steps)).encode()
    return mutate(seed, steps)  # params: bytes only


def _last_started(out: str) -> int:
    started = [int(line.split()[1]) for line in out.splitlines() if line.startswith("START ")]
    return started[-1] if started else 0


BYTES = st.tuples(st.just("bytes"), st.lists(_mutation(), min_size=1, max_size=3))
STRUCTURED = {"yaml": st.tuples(st.just("doc"), st.lists(_json_edit(), min_size=1, max_size=3)),
              "symbol": st.tuples(st.just("doc"), st.lists(_json_edit(), min_size=1, max_size=3)),
              "onnx": st.tuples(st.just("onnx"), st.lists(_onnx_edit(), min_size=1, max_size=3))}


def batches(kind: str):
    case = st.one_of(BYTES, STRUCTURED[kind]) if kind in STRUCTURED else BYTES
    return st.lists(case, min_size=40, max_size=40)
FAST = settings(max_examples=4, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("kind", ["yaml", "symbol", "params", "onnx"])
def test_fuzzed_files_load_or_raise_coded_errors(kind, seeds, tmp_path):
    @FAST
    @given(batch=batches(kind))
    def check(batch):
        run_batch(kind, seeds, batch, tmp_path / "cases")

    check()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["yaml", "symbol", "params", "onnx"])
def test_fuzzed_files_slow(kind, seeds, tmp_path):
    @SLOW
    @given(batch=batches(kind))
    def check(batch):
        run_batch(kind, seeds, batch, tmp_path / "cases")

    check()
