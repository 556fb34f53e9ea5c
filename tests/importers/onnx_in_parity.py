"""Shared by the ONNX importer tests: one-node (or small-graph) models checked against ONNX Runtime.

A `Case` names the op, the opsets it is checked at, the graph inputs (fed at run time), the
constants (initializers) and attributes. `check` builds the model with onnx.helper, runs it in
ONNX Runtime and, after our import, on MXNet's CPU executor, and compares at the case's atol.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

RTOL = 1e-4


@dataclass
class Case:
    op: str
    opsets: tuple[int, ...]
    inputs: dict = field(default_factory=dict)      # name -> array, fed at run time
    consts: dict = field(default_factory=dict)      # name -> array, initializers
    order: tuple[str, ...] | None = None           # node input names ("" = absent); default inputs + consts
    attrs: dict = field(default_factory=dict)
    outputs: int = 1
    atol: float = 1e-5
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}" if self.name else self.op

    def node_inputs(self) -> list[str]:
        return list(self.order) if self.order is not None else list(self.inputs) + list(self.consts)


def graph_model(nodes, inputs: dict, consts: dict, outputs: list[str], opset: int, ir_version: int | None = None):
    """A model from nodes; output types come from ONNX shape inference."""
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in inputs.items()]
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in consts.items()]
    outs = []
    for name in outputs:
        vi = onnx.ValueInfoProto()
        vi.name = name
        outs.append(vi)
    graph = helper.make_graph(nodes, "g", graph_inputs, outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version or min(onnx.IR_VERSION, 10)
    return onnx.shape_inference.infer_shapes(model, strict_mode=True)


def case_model(case: Case, opset: int):
    outs = [f"y{k}" for k in range(case.outputs)]
    node = helper.make_node(case.op, case.node_inputs(), outs, name="node", **case.attrs)
    return graph_model([node], case.inputs, case.consts, outs, opset)


def run_ort(path: Path, feed: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def run_mxnet(path: Path, feed: dict, shapes: dict | None = None) -> list[np.ndarray]:
    from pipeline.targets.cpu import CpuTarget
    from pipeline.onnx.load import load_onnx

    bundle = load_onnx(path, shapes if shapes is not None else {n: a.shape for n, a in feed.items()})
    specs = {s.name: s for s in bundle.inputs}
    mx_feed = {n: np.asarray(a).astype(specs[n].dtype).reshape(specs[n].shape) for n, a in feed.items()
               if n in specs}
    with CpuTarget(api="symbol") as target:
        target.deploy(bundle)
        return target.infer(mx_feed)


def compare(ref: list, got: list, atol: float, rtol: float = RTOL) -> None:
    assert len(ref) == len(got), f"{len(got)} outputs, ONNX Runtime gave {len(ref)}"
    for k, (r, g) in enumerate(zip(ref, got)):
        r = np.asarray(r)
        g = np.asarray(g)
        if r.ndim == 0 and g.size == 1:
            g = g.reshape(())
        assert r.shape == g.shape, f"output {k}: shape {g.shape}, ONNX Runtime {r.shape}"
        if r.dtype == np.bool_:
            np.testing.assert_array_equal(g.astype(bool), r, err_msg=f"output {k}")
        else:
            np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), atol=atol, rtol=rtol,
                                       err_msg=f"output {k}")


def check_model(model, feed: dict, tmp_path: Path, atol: float, shapes: dict | None = None) -> None:
    path = Path(tmp_path) / "model.onnx"
    onnx.save(model, str(path))
    compare(run_ort(path, feed), run_mxnet(path, feed, shapes), atol)


def check(case: Case, opset: int, tmp_path: Path) -> None:
    check_model(case_model(case, opset), case.inputs, tmp_path, case.atol)


def rand(*shape, seed: int = 0, dtype=np.float32, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).uniform(low, high, size=shape).astype(dtype)


def params(cases: list[Case]):
    """pytest parametrization: one test per (case, opset)."""
    import pytest

    return [pytest.param(c, o, id=f"{c.id}-opset{o}") for c in cases for o in c.opsets]


def check_reference(case: Case, opset: int, tmp_path: Path) -> None:
    """Like `check`, against onnx.reference.ReferenceEvaluator: for the few spots where ONNX
    Runtime departs from the spec's reference (each test says which)."""
    from onnx.reference import ReferenceEvaluator

    model = case_model(case, opset)
    path = Path(tmp_path) / "model.onnx"
    onnx.save(model, str(path))
    compare(ReferenceEvaluator(model).run(None, case.inputs), run_mxnet(path, case.inputs), case.atol)
