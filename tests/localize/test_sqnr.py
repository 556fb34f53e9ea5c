"""Quantized bundles get the per-layer SQNR scan, and rewritten nodes are never matched.

bf16 bundles, and a bundle with one layer quantized badly on purpose: test_sqnr_bf16.py.

ONNX Runtime's quantization pre-processing folds BatchNormalization into Conv but keeps the
exporter's node map in the file; `valid_node_map` must drop every entry whose node was rewritten,
so no MXNet Convolution is compared with a Conv that now also holds its BatchNorm.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from localize_helpers import run_cli
from pipeline.onnx.export import NODE_MAP_KEY, valid_node_map

PIPELINES = """version: 1
pipelines:
  sq:
    source: {gluon: {model: resnet18_v1}}
    inputs: {data: {shape: [1, 3, 32, 32]}}
    stages:
      - quantize: {target: onnxruntime, holdout: 2, min_top1_agreement: 0, min_cosine: 0, max_rel_err: 100}
"""


def _quantize_run(folder, config: str):
    (folder / "q.yaml").write_text(config)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(folder / "q.yaml"), "--out",
                           str(folder / "run"), "--no-cache"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return folder / "run"


@pytest.fixture(scope="module")
def int8_run(tmp_path_factory):
    """The run directory of resnet18_v1 quantized to an int8 QDQ file for onnxruntime (32x32)."""
    return _quantize_run(tmp_path_factory.mktemp("sqnr-int8"), PIPELINES)


@pytest.fixture(scope="module")
def int8_compare(int8_run):
    cell = int8_run / "sq"
    code, out, err = run_cli(["compare", str(cell / "00-gluon"), str(cell / "01-quantize"), "--localize", "--json"])
    assert code == 1, err
    return json.loads(out)


def test_int8_bundle_reports_sqnr_per_matched_node(int8_compare):
    loc = int8_compare["localize"]
    assert loc["mode"] == "sqnr" and loc["sqnr"]
    assert all(0 < row["sqnr_db"] < 100 for row in loc["sqnr"])  # int8 differs everywhere, but modestly
    noisiest = min(loc["sqnr"], key=lambda row: row["own_sqnr_db"])
    assert loc["first_divergent"]["node"] == noisiest["node"]
    assert not any(row["op"] in ("Convolution", "BatchNorm") for row in loc["sqnr"])  # folded by ORT: unmatched


def test_each_sqnr_is_the_ratio_of_independently_fetched_tensors(int8_run, int8_compare, monkeypatch):
    """Each row's tensor fetched here by hand (MXNet's executor on the internal output, ONNX Runtime
    with the tensor added as a graph output) and 10 log10(sum ref^2 / sum (ref - got)^2) recomputed."""
    import mxnet as mx
    import numpy as np
    import onnxruntime as ort

    from pipeline.measure.inputs import make_feed
    from pipeline.model.bundle import ModelBundle

    rows = int8_compare["localize"]["sqnr"]
    cell = int8_run / "sq"
    source = ModelBundle.load(cell / "00-gluon")
    feed = make_feed(source.inputs, "random", seed=0)  # what compare feeds: its default seed
    sym, args, aux = mx.model.load_checkpoint(str(cell / "00-gluon" / "model"), 0)
    internals = sym.get_internals()
    group = mx.sym.Group([internals[row["tensor"]] for row in rows])
    args.update({k: mx.nd.array(v) for k, v in feed.items()})
    monkeypatch.setenv("MXNET_SUBGRAPH_BACKEND", "NONE")  # the plain graph: a fused Conv would answer for its BN
    exe = group.bind(mx.cpu(), args={k: args[k] for k in group.list_arguments()},
                     aux_states={k: aux[k] for k in group.list_auxiliary_states()}, grad_req="null")
    exe.forward(is_train=False)
    refs = [o.asnumpy().astype(np.float64) for o in exe.outputs]
    record = json.loads((cell / "01-quantize" / "bundle.json").read_text())["metadata"]["quantized"]
    model = onnx.load(str(int8_run / record["path"]))
    model.graph.output.extend(helper.make_empty_tensor_value_info(row["other_tensor"]) for row in rows)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    gots = session.run([row["other_tensor"] for row in rows], feed)
    for row, ref, got in zip(rows, refs, gots):
        got = np.asarray(got, dtype=np.float64).reshape(ref.shape)
        expected = 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - got) ** 2))
        assert row["sqnr_db"] == pytest.approx(expected, abs=0.05), row


def test_an_openvino_ir_bundle_is_refused_not_compared_as_its_fp32_symbol(tmp_path):
    """NNCF's IR cannot be tapped; exporting the Symbol instead would compare fp32 under its name."""
    cell = _quantize_run(tmp_path, PIPELINES.replace("target: onnxruntime", "target: openvino")) / "sq"
    code, out, err = run_cli(["compare", str(cell / "00-gluon"), str(cell / "01-quantize"), "--localize"])
    assert code == 2 and "LOC007" in err and "openvino-ir" in err and len(err.strip().splitlines()) == 1, err


def _model(nodes, map_entries):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph)
    entry = model.metadata_props.add()
    entry.key, entry.value = NODE_MAP_KEY, json.dumps(map_entries)
    return model


def test_an_entry_holds_through_activation_qdq_pairs():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("Relu", ["xd"], ["y"])]
    assert valid_node_map(_model(nodes, [["relu0", 0, "y", "Relu", ["x"]]])) == [("relu0", 0, "y")]


def test_a_rewritten_node_drops_out_of_the_map():
    changed_op = [helper.make_node("Sigmoid", ["x"], ["y"])]
    changed_inputs = [helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Relu", ["n"], ["y"])]
    entry = [["relu0", 0, "y", "Relu", ["x"]]]
    assert valid_node_map(_model(changed_op, entry)) == []
    assert valid_node_map(_model(changed_inputs, entry)) == []
    onnx.checker.check_model(_model(changed_inputs, entry))


def test_own_sqnr_reads_the_drop_as_added_noise_power():
    """A first layer behind exact inputs adds all its noise; a node that keeps or improves its input's
    SQNR adds none; 20 dB behind a 45 dB input is nearly all its own (what makes a bad layer stand
    out, where a plain dB drop would always name the first layer)."""
    from pipeline.localize.search import SQNR_CAP_DB, own_sqnr_db

    assert own_sqnr_db(50.0, SQNR_CAP_DB) == pytest.approx(50.0)
    assert own_sqnr_db(46.0, 45.0) == SQNR_CAP_DB
    assert own_sqnr_db(20.0, 45.0) == pytest.approx(-10 * math.log10(10 ** -2 - 10 ** -4.5))
    assert own_sqnr_db(42.0, 45.0) == pytest.approx(-10 * math.log10(10 ** -4.2 - 10 ** -4.5))
