"""The GluonNLP zoo: random weights, a synthetic vocabulary, typed default inputs in the model's order.

Tiny hparams (2 layers, small widths, vocab 100) through `hparam_allow_override`; the zoo file
runs the real sizes (zoo-gluonnlp.yaml, --run-slow).
"""
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gluonnlp")

from pipeline.graph import run_bundle  # noqa: E402
from pipeline.measure.inputs import random_feed  # noqa: E402
from pipeline.model import zoos  # noqa: E402
from pipeline.model.resolve import default_zoo_inputs, export_block, zoo_block  # noqa: E402
from pipeline.targets import TARGETS  # noqa: E402

TINY_BERT = {"num_layers": 2, "units": 32, "hidden_size": 64, "num_heads": 2, "max_length": 64, "embed_size": 32,
             "hparam_allow_override": True, "vocab_size": 100}
TINY_LM = {"embed_size": 16, "hidden_size": 16, "num_layers": 2, "hparam_allow_override": True, "vocab_size": 100}


def test_names_resolve_to_the_gluonnlp_zoo_with_family_nlp():
    for name in ("bert_12_768_12", "roberta_12_768_12", "distilbert_6_768_12", "standard_lstm_lm_200",
                 "awd_lstm_lm_600"):
        zoo = zoos.find_zoo(name)
        assert zoo.name == "gluonnlp" and zoo.family(name) == "nlp"


def test_bert_inputs_are_typed_with_the_vocabulary_range():
    specs = default_zoo_inputs("bert_12_768_12")
    assert [(s.name, s.shape, s.dtype, s.range, s.integer) for s in specs] == [
        ("data0", (2, 16), "float32", (0, 30522), True),  # token ids in [0, vocab)
        ("data1", (2, 16), "float32", (0, 2), True),  # token types
        ("data2", (2,), "float32", (1, 17), True)]  # valid length in [1, seq]
    assert [s.name for s in default_zoo_inputs("roberta_12_768_12")] == ["data0", "data1"]  # no token types
    assert default_zoo_inputs("roberta_12_768_12")[0].range == (0, 50265)


def test_lm_inputs_are_seq_batch_with_their_begin_states():
    specs = default_zoo_inputs("standard_lstm_lm_200", TINY_LM)
    assert [(s.shape, s.batch_axis) for s in specs] == [((16, 2), 1), ((2, 2, 16), 1), ((2, 2, 16), 1)]
    assert specs[0].range == (0, 100) and specs[0].integer


@pytest.mark.parametrize("name, kwargs, dynamic", [
    ("bert_12_768_12", TINY_BERT, {"data0": (1,), "data1": (1,)}),
    ("standard_lstm_lm_200", TINY_LM, {"data0": (0,)}),
])
@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
def test_exports_match_mxnet_at_both_sizes(name, kwargs, dynamic, target):
    """Random token ids drawn from the declared vocabulary, the sequence axis dynamic."""
    specs = [dataclasses.replace(s, dynamic=dynamic.get(s.name, ())) for s in default_zoo_inputs(name, kwargs)]
    with tempfile.TemporaryDirectory() as tmp:
        bundle = export_block(zoo_block(name, kwargs), specs, Path(tmp))
    with TARGETS.get(target)(api="symbol") as session:
        session.deploy(bundle)
        for batch_index, feed_specs in enumerate((specs, [s.resized() for s in specs])):
            feed = random_feed(feed_specs, seed=0, batch_index=batch_index)
            assert feed["data0"].max() >= 10  # the whole vocabulary is drawn
            ref, got = run_bundle(bundle, feed), session.infer(feed)
            assert len(ref) == len(got)
            for r, g in zip(ref, got):
                assert np.abs(r).max() > 1e-3  # not a vacuous comparison
                np.testing.assert_allclose(g, r, atol=1e-4, rtol=1e-3)


ZOO_FILE = Path(__file__).resolve().parents[2] / "zoo-gluonnlp.yaml"
MORE_FILE = ZOO_FILE.with_name("zoo-gluonnlp-more.yaml")  # the same families beyond the issue's list


def _run_zoo(tmp_path, *only: str, zoo_file: Path = ZOO_FILE) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    selection = [arg for name in only for arg in ("--only", name)]
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(zoo_file), *selection, "--out",
                           str(tmp_path / "out")], env=env, text=True, capture_output=True, timeout=3600)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    bad = {p["name"]: p["status"] for p in report["pipelines"] if p["status"] not in ("passed", "cached")}
    assert bad == {} and proc.returncode == 0, proc.stdout[-3000:]
    for cell in report["pipelines"]:
        verify = next(s for s in cell["stages"] if s["name"] == "verify")
        assert verify["metrics"]["second_size"]["max_abs_err"] < 1e-4  # the second sequence length too
    return report


def test_zoo_file_lstm_lm_on_every_host_target(tmp_path):
    """One model of zoo-gluonnlp.yaml in the default run: the LSTM LM x {cpu, onnxruntime, openvino}."""
    report = _run_zoo(tmp_path, "standard-lstm-lm-200")
    assert len(report["pipelines"]) == 3


@pytest.mark.slow
def test_zoo_file_every_model_on_every_host_target(tmp_path):
    report = _run_zoo(tmp_path)
    assert len(report["pipelines"]) == 15


@pytest.mark.slow
def test_more_models_of_the_same_families_on_every_host_target(tmp_path):
    """zoo-gluonnlp-more.yaml: ERNIE, BERT/RoBERTa large, the larger LSTM LMs; nothing special-cased."""
    report = _run_zoo(tmp_path, zoo_file=MORE_FILE)
    assert len(report["pipelines"]) == 18


ISSUE_BERT = """\
version: 1
defaults:
  verify: {input: random, seed: 0, atol: 1.0e-4, rtol: 1.0e-3, runs: 1, warmup: 0}
pipelines:
  bert:
    matrix: {target: [onnxruntime, openvino]}
    source:
      gluon: {model: bert_12_768_12, kwargs: {num_layers: 2, hparam_allow_override: true}}
    inputs:
      data0: {shape: [2, 16], dtype: float32, range: [0, 30522], integer: true, dynamic: [1]}
      data1: {shape: [2, 16], dtype: float32, range: [0, 2], integer: true, dynamic: [1]}
      data2: {shape: [2], dtype: int32, range: [1, 17]}
    stages:
      - deploy: {target: "${target}"}
      - verify
"""


def test_the_issue_declaration_with_an_int32_valid_length_verifies_on_both_onnx_targets(tmp_path):
    """The issue's contract, verbatim: a 2-layer BERT whose valid length is int32 goes source ->
    deploy -> verify on onnxruntime and openvino, at both sizes, and the ONNX input stays INT32."""
    import json
    import os
    import subprocess
    import sys

    import onnx

    from pipeline.model.bundle import ModelBundle
    from pipeline.onnx.export import to_onnx

    config = tmp_path / "bert.yaml"
    config.write_text(ISSUE_BERT)
    env = {**os.environ, "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(config), "--out", str(tmp_path / "out")],
                          env=env, text=True, capture_output=True, timeout=1200)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [c["status"] for c in report["pipelines"]] == ["passed", "passed"], proc.stdout[-3000:]
    for cell in report["pipelines"]:
        verify = next(s for s in cell["stages"] if s["name"] == "verify")
        assert verify["metrics"]["max_abs_err"] < 1e-4 and verify["metrics"]["second_size"]["max_abs_err"] < 1e-4
        deployed = next(s for s in cell["stages"] if s["name"] == "deploy")
        bundle = ModelBundle.load(tmp_path / "out" / Path(deployed["artifacts"]["bundle"]).parent)
        assert bundle.inputs[2].dtype == "int32"
        types = {vi.name: vi.type.tensor_type.elem_type for vi in to_onnx(bundle).graph.input}
        assert types["data2"] == onnx.TensorProto.INT32 and types["data0"] == onnx.TensorProto.FLOAT
