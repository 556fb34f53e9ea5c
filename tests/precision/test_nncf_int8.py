"""pipeline/precision/nncf_int8.py: NNCF in its own venv, on the exported ONNX, guarded like every int8.

The venv is part of the README's setup (`./dev setup` makes .venv-nncf), so these tests need it
and fail, not skip, when it is missing.
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.errors import StageError
from pipeline.graph import run_bundle
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.precision import nncf_int8


def _calibration(n: int, shape=(1, 3, 64, 64), seed: int = 0):
    rng = np.random.default_rng(seed)
    return [{"data": rng.standard_normal(shape).astype(np.float32)} for _ in range(n)]


@pytest.fixture(scope="module")
def small_bundle():
    return zoo_bundle("resnet18_v1", (1, 3, 64, 64))


def test_the_side_venv_exists_and_is_not_ours():
    python = nncf_int8.nncf_python()
    assert python is not None, "run ./dev setup: it creates .venv-nncf"
    import subprocess

    out = subprocess.run([str(python), "-c", "import numpy, nncf; print(numpy.__version__)"],
                         capture_output=True, text=True, check=True).stdout
    assert int(out.split(".")[0]) >= 2  # the reason it has to be a separate environment


def test_nncf_int8_ir_stays_close_to_fp32_and_is_published_with_hashes(small_bundle, tmp_path):
    import openvino as ov

    xml, fields = nncf_int8.quantize_with_nncf(small_bundle, _calibration(8), tmp_path / "stage", tmp_path)
    assert xml.is_file() and xml.with_suffix(".bin").is_file() and (tmp_path / "stage" / "nncf.log").is_file()
    assert fields["path"] == "stage/model-int8.xml" and set(fields["companions"]) == {"model-int8.bin"}
    assert not list((tmp_path / "stage").glob("*.tmp*"))
    compiled = ov.Core().compile_model(str(xml), "CPU")
    for feed in _calibration(4, seed=1):  # held-out rows
        ref, got = run_bundle(small_bundle, feed)[0].ravel(), compiled(feed)[0].ravel()
        cosine = float(ref @ got / np.linalg.norm(ref) / np.linalg.norm(got))
        assert cosine > 0.99
    convs = [str(op.get_rt_info()["runtimePrecision"].astype(str)) for op in compiled.get_runtime_model().get_ops()
             if op.get_rt_info()["layerType"].astype(str) == "Convolution"]
    assert convs and all(p in ("u8", "i8") for p in convs), convs  # every convolution really runs in int8


def test_missing_environment_is_one_coded_error(monkeypatch, small_bundle, tmp_path):
    monkeypatch.setenv(nncf_int8.ENV_VAR, str(tmp_path / "no-such-python"))
    assert not nncf_int8.is_available()
    with pytest.raises(StageError) as err:
        nncf_int8.quantize_with_nncf(small_bundle, _calibration(2), tmp_path / "stage", tmp_path)
    assert err.value.code == "QNT112" and "./dev setup" in err.value.hint


def test_a_model_nncf_refuses_is_one_coded_line_with_the_raw_text_in_the_log(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    log = tmp_path / "nncf.log"
    with pytest.raises(StageError) as err:
        nncf_int8.run_nncf(bad, _calibration(2), tmp_path / "out.xml", log)
    assert err.value.code == "QNT113" and "\n" not in err.value.message
    assert log.read_text().strip()  # the runtime's own words, for whoever debugs it
    assert not (tmp_path / "out.xml").exists()


def _runtime_precisions(xml) -> dict[str, str]:
    """{executed op's friendly name: the precision OpenVINO's CPU plugin runs it in}, convolutions only."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return {op.get_friendly_name(): str(op.get_rt_info()["runtimePrecision"].astype(str))
            for op in compiled.get_runtime_model().get_ops()
            if op.get_rt_info()["layerType"].astype(str) == "Convolution"}


def test_depthwise_convolutions_run_in_int8(tmp_path):
    """mobilenetv2's depthwise convolutions: read by Core.read_model, the grouped weight's reshape
    stayed a ShapeOf subgraph and OpenVINO ran all 17 of them in f32, a third of the model's time."""
    bundle = zoo_bundle("mobilenetv2_0.25", (1, 3, 64, 64))
    grouped = [n["name"] for n in bundle.graph()["nodes"]
               if n["op"] == "Convolution" and int(n.get("attrs", {}).get("num_group", "1")) > 1]
    assert len(grouped) == 17
    xml, _ = nncf_int8.quantize_with_nncf(bundle, _calibration(8), tmp_path / "stage", tmp_path)
    precisions = _runtime_precisions(xml)
    assert len(precisions) == 54 and set(precisions.values()) <= {"u8", "i8"}, precisions


def test_an_excluded_convolution_stays_in_float_and_keeps_its_name(small_bundle, tmp_path):
    """exclude_nodes reaches NNCF's ignored scope through OpenVINO's converter: resnet's BatchNorms are
    folded into their convolutions first (OpenVINO's own fusion renames the op, so the conv could not
    be found), and OpenVINO's split of a biased Conv into `name/WithoutBiases` + Add is matched by
    the name's prefix."""
    convs = [n["name"] for n in small_bundle.graph()["nodes"] if n["op"] == "Convolution"]
    middle = convs[len(convs) // 2]
    xml, _ = nncf_int8.quantize_with_nncf(small_bundle, _calibration(8), tmp_path / "stage", tmp_path,
                                          exclude_nodes=(middle,))
    precisions = _runtime_precisions(xml)
    excluded = {name: p for name, p in precisions.items() if name.split("/")[0].startswith(middle)}
    assert excluded and set(excluded.values()) == {"f32"}, precisions
    others = {p for name, p in precisions.items() if name not in excluded}
    assert others <= {"u8", "i8"}, precisions


def test_excluded_nodes_nncf_cannot_find_are_one_coded_error(small_bundle, tmp_path):
    """The child says so when none of the ignored names is an op of OpenVINO's model (a silently empty
    ignored scope would quantize what the user excluded)."""
    onnx_path = nncf_int8.export_bundle(small_bundle, tmp_path / "model.onnx")
    with pytest.raises(StageError) as err:
        nncf_int8.run_nncf(onnx_path, _calibration(2), tmp_path / "out.xml", tmp_path / "nncf.log",
                           ignore=["no_such_node"])
    assert err.value.code == "QNT113" and "no_such_node" in err.value.message
