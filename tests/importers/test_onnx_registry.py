"""The converter registry: keys, opset lookup, unsupported-model errors, and test coverage of keys."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from onnx_in_parity import graph_model, rand
from pipeline.core.errors import InternalError
from pipeline.onnx.importer import errors, families  # noqa: F401 - fills the registry
from pipeline.onnx.importer.registry import all_keys, converter, lookup, registered_versions

HERE = Path(__file__).parent


def _exercised() -> set[tuple[str, int]]:
    """Every (op, opset) a parity test in this folder runs, read from the modules' CASES/COVERED."""
    pairs = set()
    for path in sorted(HERE.glob("test_onnx_*.py")):
        spec = importlib.util.spec_from_file_location(f"_cases_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for case in getattr(module, "CASES", []):
            pairs.update((case.op, o) for o in case.opsets)
        pairs.update(getattr(module, "COVERED", []))
    return pairs


def test_every_registered_converter_key_has_a_parity_test():
    exercised = _exercised()
    hit = set()
    for op, opset in exercised:
        fn, _ = lookup(op, "ai.onnx", opset)
        if fn is not None:
            versions = [v for v in registered_versions(op) if v <= opset]
            hit.add((op, versions[-1]))
    missing = [f"{k.op_type}-{k.since_version}" for k in all_keys() if (k.op_type, k.since_version) not in hit]
    assert not missing, f"converter keys without a parity test: {', '.join(missing)}"


def test_registering_a_key_twice_raises():
    with pytest.raises(InternalError, match="registered twice"):
        converter("Relu", since=6)(lambda node, ctx: None)


def test_lookup_takes_the_newest_version_not_above_the_opset():
    clip11, _ = lookup("Clip", "ai.onnx", 11)
    clip6, _ = lookup("Clip", "ai.onnx", 10)
    assert clip11 is clip6  # one function, registered under 6, 11, 12 and 13
    assert registered_versions("Clip") == [6, 11, 12, 13]
    assert [v for v in registered_versions("Split") if v <= 17][-1] == 13


def test_lookup_below_every_version_is_an_error_listing_them():
    """TVM wrapped around to its newest handler here; we refuse and say which versions exist."""
    fn, why = lookup("Gelu", "ai.onnx", 13)
    assert fn is None and why == "converters exist only for opset 20"


def test_unsupported_model_gets_one_error_listing_every_op(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("Det", ["a"], ["b"], name="det1"),
             helper.make_node("Gelu", ["x"], ["c"], name="gelu1"),
             helper.make_node("Det", ["c"], ["d"], name="det2")]
    model = graph_model(nodes, {"x": rand(2, 3, 3)}, {}, ["b", "d"], 13)
    path = tmp_path / "m.onnx"
    import onnx

    onnx.save(model, str(path))
    from pipeline.onnx.load import load_onnx

    with pytest.raises(errors.OnnxImportError) as info:
        load_onnx(path, None)
    exc = info.value
    assert exc.code == "ONNX101"
    assert "Det (opset 13; no converter; nodes: det1, det2)" in exc.message
    assert "Gelu (opset 13; converters exist only for opset 20; nodes: gelu1)" in exc.message
    assert exc.message.startswith("2 unsupported ONNX op(s)")


def test_no_converter_module_is_missing_from_families():
    listed = {m.__name__.rsplit(".", 1)[1] for m in families.MODULES}
    package = Path(families.__file__).parent
    modules = {p.stem for p in package.glob("*.py")}
    helpers = {"__init__", "registry", "context", "state", "convert", "modelfile", "onnxfile", "errors", "families",
               "padding", "coverage", "coverage_report", "coverage_scope", "reference", "rnn_unrolled",
               "selection"}
    assert modules - helpers == listed
    assert np.all([k.domain == "ai.onnx" for k in all_keys()])
