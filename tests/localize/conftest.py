"""A resnet18_v1 checkpoint at 1x3x64x64, its ONNX export, and a copy with one Conv corrupted."""
from __future__ import annotations

import json

import numpy as np
import pytest

from localize_helpers import SHAPE, run_cli


@pytest.fixture(scope="session")
def resnet(tmp_path_factory):
    """{prefix, onnx, bad, conv}: `bad` has noise added to the weight of the middle Conv."""
    import onnx
    from onnx import numpy_helper

    folder = tmp_path_factory.mktemp("localize-resnet18")
    prefix, good, bad = folder / "r18", folder / "r18.onnx", folder / "bad.onnx"
    code, _, err = run_cli(["convert", "resnet18_v1", str(prefix), "--input", SHAPE])
    assert code == 0, err
    assert run_cli(["convert", str(prefix), str(good), "--input", SHAPE])[0] == 0
    model = onnx.load(str(good))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    conv = convs[len(convs) // 2]
    weight = next(t for t in model.graph.initializer if t.name == conv.input[1])
    value = numpy_helper.to_array(weight).copy()
    value += np.random.default_rng(1).normal(0, 0.05, value.shape).astype(value.dtype)
    weight.CopyFrom(numpy_helper.from_array(value, weight.name))
    onnx.save(model, str(bad))
    node_map = json.loads(next(p.value for p in model.metadata_props if p.key == "mxdeploy.node_map"))
    mx_node = next(e[0] for e in node_map if e[2] == conv.output[0])
    return {"prefix": str(prefix), "onnx": str(good), "bad": str(bad), "conv": conv.output[0], "mx_node": mx_node}
