"""Target capabilities are declared once, on the targets, and quantize, tune and deploy read them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.errors import InternalError, TargetError
from pipeline.model.quantized import FORMATS
from pipeline.precision.catalog import QUANTIZERS, quantizer_keys
from pipeline.precision.tuning import candidates, tune_options
from pipeline.targets import TARGETS, quantize_target_names, targets_serving
from pipeline.targets.base import PLAIN_FORMATS, PRECISIONS, Target, register_target
from pipeline.targets.build import check_servable, open_target

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


@pytest.mark.parametrize("name", TARGETS.names())
def test_every_target_declares_consistent_capabilities(name):
    cls = TARGETS.get(name)
    assert "fp32" in cls.precisions and set(cls.precisions) <= set(PRECISIONS)
    assert cls.formats and set(cls.formats) <= set(PLAIN_FORMATS) | set(FORMATS)
    assert set(cls.formats) & set(PLAIN_FORMATS), "every target runs an unquantized model"
    assert all(FORMATS[f] in cls.precisions for f in cls.formats if f in FORMATS)
    assert set(cls.tune) <= set(cls.precisions)


def test_tune_candidates_are_the_declared_precisions_crossed_with_the_quantizers():
    expected = [(t, p) for t, cls in TARGETS.items() for p in PRECISIONS
                if p in cls.tune and (p == "fp32" or (p, t) in quantizer_keys())]
    assert candidates() == expected
    # the table pipeline tune printed before the declarations moved onto the targets, + int8+bf16 (issue 19)
    assert candidates() == [("cpu", "fp32"), ("onednn", "fp32"), ("onednn", "bf16"), ("onednn", "int8"),
                            ("onnxruntime", "fp32"), ("onnxruntime", "int8"),
                            ("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8"),
                            ("openvino", "int8+bf16")]
    assert tune_options("openvino", "fp32") == {"precision": "f32"} and tune_options("onednn", "int8") == {}


def test_every_quantizer_writes_a_format_its_target_serves():
    for precision, target in quantizer_keys():
        quantizer = QUANTIZERS.get(f"{precision}:{target}")
        assert FORMATS[quantizer.format] == precision.split("+")[0]  # int8+bf16: an int8 artifact
        assert quantizer.format in TARGETS.get(target).formats
        assert target in targets_serving(quantizer.format)
    assert sorted({t for _, t in quantizer_keys()}) == sorted(quantize_target_names())


def test_a_quantized_bundle_opens_only_where_its_format_is_served(tmp_path):
    meta = {"quantized": {"precision": "int8", "format": "mxnet-int8", "target": "cpu"}}
    check_servable(meta, "onednn")
    with pytest.raises(TargetError) as err:
        open_target("onnxruntime", meta, tmp_path)
    assert err.value.code == "QNT201" and "cpu or onednn" in err.value.hint
    qdq = {"quantized": {"precision": "int8", "format": "onnx-qdq", "target": "onnxruntime", "path": "q.onnx"}}
    assert open_target("onnxruntime", qdq, tmp_path).options == {"base_dir": str(tmp_path)}


def test_a_contradictory_declaration_is_refused_at_registration():
    class Broken(Target):
        name = "broken_test_target"
        precisions = frozenset({"fp32"})
        formats = frozenset({"symbol", "onnx-qdq"})  # an int8 format on an fp32-only target

    with pytest.raises(InternalError, match="inconsistent capabilities"):
        register_target(Broken)
    assert "broken_test_target" not in TARGETS


def test_a_target_in_one_plugin_file_reaches_quantize_and_tune():
    script = ("import json, stages\n"
              "from pipeline.core.plugins import load_plugins\n"
              "load_plugins()\n"
              "from pipeline.precision.tuning import candidates\n"
              "from pipeline.precision.settings import quantize_targets\n"
              "from pipeline.targets import targets_serving\n"
              "print(json.dumps({'candidates': candidates(), 'quantize': quantize_targets(),"
              " 'int8': targets_serving('mxnet-int8')}))\n")
    env = {**os.environ, "MXDEPLOY_PLUGINS": "extra_target",
           "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert ["extra_cpu", "fp32"] in found["candidates"] and ["extra_cpu", "int8"] in found["candidates"]
    assert "extra_cpu" in found["quantize"] and "extra_cpu" in found["int8"]
