"""pipeline/run/cache.py: keys change with everything a stage's output depends on; entries are atomic."""
from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from pipeline.run import cache as cache_mod
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.run.cache import ENTRY_FILE, StageCache, stage_key


@dataclass(frozen=True)
class P:
    path: str = ""
    factor: int = 1
    names: list = field(default_factory=list)


def _bundle(folder: Path, scale: float = 1.0) -> Path:
    import mxnet as mx

    sym = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")
    args = {"fc_weight": np.full((2, 3), scale, "float32"), "fc_bias": np.zeros(2, "float32")}
    ModelBundle.from_symbol(sym, args, {}, [TensorSpec("data", (1, 3))]).save(folder)
    return folder


def _key(tmp_path, params, *, bundle_dir=None, kind="transform", inputs=(TensorSpec("data", (1, 3)),),
         location="cell/01-x", stage="x"):
    return stage_key(stage=stage, kind=kind, params=params, input_bundle_dir=bundle_dir, inputs=inputs,
                     settings={}, config_dir=tmp_path, location=location)[0]


def test_key_follows_params_input_bundle_inputs_and_location(tmp_path):
    a = _bundle(tmp_path / "a")
    same = _key(tmp_path, P(factor=1), bundle_dir=a)
    assert _key(tmp_path, P(factor=1), bundle_dir=a) == same
    assert _key(tmp_path, P(factor=2), bundle_dir=a) != same
    assert _key(tmp_path, P(factor=1), bundle_dir=_bundle(tmp_path / "b", 2.0)) != same
    assert _key(tmp_path, P(factor=1), bundle_dir=_bundle(tmp_path / "c", 1.0)) == same  # content, not path
    assert _key(tmp_path, P(factor=1), bundle_dir=a, inputs=(TensorSpec("data", (2, 3)),)) != same
    assert _key(tmp_path, P(factor=1), bundle_dir=a, location="other/01-x") != same
    assert _key(tmp_path, P(factor=1), bundle_dir=a, stage="y") != same


def test_source_key_hashes_named_files_prefixes_and_factory_modules(tmp_path):
    (tmp_path / "w.txt").write_text("one")
    key = _key(tmp_path, P(path="w.txt"), kind="source")
    (tmp_path / "w.txt").write_text("two")
    assert _key(tmp_path, P(path="w.txt"), kind="source") != key
    # a checkpoint prefix names PREFIX-symbol.json and PREFIX-0000.params
    (tmp_path / "net-symbol.json").write_text("{}")
    (tmp_path / "net-0000.params").write_bytes(b"a")
    key = _key(tmp_path, P(path="net"), kind="source")
    (tmp_path / "net-0000.params").write_bytes(b"b")
    assert _key(tmp_path, P(path="net"), kind="source") != key
    # a factory: the module's source file
    (tmp_path / "facs.py").write_text("def make(): return 1\n")
    key = _key(tmp_path, P(path="facs:make"), kind="source")
    (tmp_path / "facs.py").write_text("def make(): return 2\n")
    assert _key(tmp_path, P(path="facs:make"), kind="source") != key
    # transforms do not hash files (their input bundle carries the content)
    (tmp_path / "w.txt").write_text("three")
    assert _key(tmp_path, P(path="w.txt")) == _key(tmp_path, P(path="w.txt"))


def _stage_dir(tmp_path: Path) -> tuple[Path, dict]:
    folder = _bundle(tmp_path / "stage")
    (folder / "extra").mkdir()
    (folder / "extra" / "note.txt").write_text("hello")
    report = {"status": "passed", "seconds": 1.5, "metrics": {"m": 1}, "diagnostics": [],
              "artifacts": {"bundle": "bundle.json"}}
    return folder, report


def test_store_then_lookup_restores_an_identical_folder(tmp_path):
    cache = StageCache(tmp_path / "cache")
    folder, report = _stage_dir(tmp_path)
    cache.store("ab" * 32, {"m": 1}, folder, report, has_bundle=True)
    entry = cache.lookup("ab" * 32)
    assert entry is not None and entry.report == report and entry.has_bundle
    out = tmp_path / "restored"
    out.mkdir()
    assert cache.restore(entry, out)
    assert (out / "extra" / "note.txt").read_text() == "hello"
    loaded = ModelBundle.load(out)  # sha256-checked by the bundle itself too
    assert loaded.arg_params["fc_weight"].sum() == 6
    assert list((tmp_path / "cache" / "v1" / "tmp").iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "delete", "entry_json", "no_entry_json"])
def test_damaged_entry_is_never_used_and_is_removed(tmp_path, damage):
    cache = StageCache(tmp_path / "cache")
    folder, report = _stage_dir(tmp_path)
    key = "cd" * 32
    path = cache.store(key, {}, folder, report, has_bundle=True)
    params = path / "model-0000.params"
    if damage == "truncate":
        data = params.read_bytes()
        params.unlink()  # a new inode: the run dir's hard link keeps the good bytes
        params.write_bytes(data[: len(data) // 2])
    elif damage == "delete":
        (path / "extra" / "note.txt").unlink()
    elif damage == "entry_json":
        (path / ENTRY_FILE).write_text("{not json")
    else:
        (path / ENTRY_FILE).unlink()
    assert cache.lookup(key) is None
    assert not path.exists()


def test_temp_folders_are_invisible_and_swept(tmp_path):
    cache = StageCache(tmp_path / "cache")
    key = "ef" * 32
    # a writer killed half-way: its temp folder holds part of the files and no entry.json
    dead = cache.tmp / f"{key}@{os.uname().nodename}@999999999@0000"
    dead.mkdir(parents=True)
    (dead / "model-0000.params").write_bytes(b"half")
    alive = cache.tmp / f"{key}@{os.uname().nodename}@{os.getpid()}@0001"
    alive.mkdir()
    assert cache.lookup(key) is None
    assert cache.sweep() == 1
    assert not dead.exists() and alive.exists()


def test_no_cache_mode_replaces_entries_and_never_reads(tmp_path):
    folder, report = _stage_dir(tmp_path)
    key = "12" * 32
    StageCache(tmp_path / "cache").store(key, {}, folder, {**report, "metrics": {"m": 1}}, has_bundle=True)
    writer = StageCache(tmp_path / "cache", read=False)
    assert writer.lookup(key) is None
    writer.store(key, {}, folder, {**report, "metrics": {"m": 2}}, has_bundle=True)
    assert StageCache(tmp_path / "cache").lookup(key).report["metrics"] == {"m": 2}


def _writer(root, folder, key, n):
    cache = StageCache(root)
    for i in range(n):
        cache.store(key, {}, Path(folder), {"status": "passed", "seconds": 0, "metrics": {"i": i},
                                             "diagnostics": [], "artifacts": {}}, has_bundle=True)
        entry = cache.lookup(key)
        assert entry is not None


def test_concurrent_writers_of_one_key_leave_one_valid_entry(tmp_path):
    folder, _ = _stage_dir(tmp_path)
    key = "34" * 32
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path / "cache"), str(folder), key, 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert StageCache(tmp_path / "cache").lookup(key) is not None
    assert list((tmp_path / "cache" / "v1" / "tmp").iterdir()) == []


def test_cache_dir_default_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MXDEPLOY_CACHE_DIR", str(tmp_path / "c"))
    assert cache_mod.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MXDEPLOY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_mod.default_cache_dir() == tmp_path / "x" / "mxdeploy"


def test_key_follows_every_runtime_version_and_the_host_for_host_dependent_stages(tmp_path, monkeypatch):
    from pipeline.precision import cpuflags

    def key(host_dependent=False):
        return stage_key(stage="x", kind="transform", params=P(), input_bundle_dir=None, inputs=(), settings={},
                         config_dir=tmp_path, location="c/01-x", host_dependent=host_dependent)[0]

    versions = {"mxnet": "1.9.1", "onnx": "1.18.0", "onnxruntime": "1.20.0", "openvino": "2025.1"}
    monkeypatch.setattr(cache_mod, "runtime_versions", lambda: dict(versions))
    plain, hosted = key(), key(True)
    versions["onnxruntime"] = "1.21.0"
    assert key() != plain
    versions["onnxruntime"], versions["openvino"] = "1.20.0", "2025.2"
    assert key() != plain
    versions["openvino"] = "2025.1"
    assert key() == plain and key(True) == hosted
    monkeypatch.setattr(cpuflags, "host_fingerprint", lambda: {"cpu": "other", "flags": ["avx2"]})
    assert key(True) != hosted and key() == plain  # only a host-dependent stage's key names the host


def test_prune_evicts_least_recently_used_entries_down_to_the_bound(tmp_path):
    cache = StageCache(tmp_path / "cache")
    keys = [f"{i:02x}" * 32 for i in range(4)]
    for age, key in enumerate(keys):
        folder = tmp_path / f"stage{age}"
        folder.mkdir()
        (folder / "blob.bin").write_bytes(b"x" * 10_000)
        entry = cache.store(key, {}, folder, {"status": "passed"}, has_bundle=False)
        os.utime(entry / ENTRY_FILE, (1_000 + age, 1_000 + age))  # keys[0] the oldest
    assert cache.lookup(keys[0]) is not None  # a hit makes the oldest the most recent
    one = sum(p.stat().st_size for p in cache.entry_path(keys[1]).rglob("*") if p.is_file())
    removed, freed = cache.prune(2 * one)
    assert (removed, freed) == (2, 2 * one)
    assert [k for k in keys if cache.lookup(k) is not None] == [keys[0], keys[3]]
    assert cache.prune(10 * one) == (0, 0)


def test_a_run_holds_the_cache_to_its_bound(tmp_path, monkeypatch):
    from pipeline.run import runner
    from pipeline.run.worker import CellOptions

    cache = StageCache(tmp_path / "cache")
    folder = tmp_path / "stage"
    folder.mkdir()
    (folder / "blob.bin").write_bytes(b"x" * 100_000)
    cache.store("ee" * 32, {}, folder, {"status": "passed"}, has_bundle=False)
    runner.run_pipelines([], tmp_path / "run", options=CellOptions(cache_dir=str(cache.root), cache_max_gb=50e3 / 2**30))
    assert cache.lookup("ee" * 32) is None
    monkeypatch.setenv(cache_mod.MAX_GB_ENV, "not a number")
    assert cache_mod.default_max_gb() == cache_mod.DEFAULT_MAX_GB
    monkeypatch.setenv(cache_mod.MAX_GB_ENV, "2.5")
    assert cache_mod.default_max_gb() == 2.5


def test_run_refuses_a_non_positive_cache_bound(tmp_path, capsys):
    from pipeline.cli import main

    pipelines_file = Path(__file__).resolve().parents[2] / "pipelines.yaml"
    assert main(["run", str(pipelines_file), "--cache-max-gb", "0", "--out", str(tmp_path / "run")]) == 2
    assert "--cache-max-gb must be positive" in capsys.readouterr().err


def test_the_key_follows_the_tools_own_source(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    before = cache_mod.tool_digest((tmp_path / "pkg",))
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert cache_mod.tool_digest.__wrapped__((tmp_path / "pkg",)) != before
    assert len(cache_mod.tool_digest()) == 64
    key = _key(tmp_path, P())
    monkeypatch.setattr(cache_mod, "tool_digest", lambda: "edited")
    assert _key(tmp_path, P()) != key
