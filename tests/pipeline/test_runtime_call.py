"""runtime_call: what a block calling into a runtime turns into, on success and on each kind of failure."""
from __future__ import annotations

import json

import pytest

from pipeline.core import activity
from pipeline.core.errors import StageError, TargetError
from pipeline.core.runtime_errors import LOG_ENV, runtime_call


def test_a_runtime_exception_becomes_one_coded_error_without_its_chain(tmp_path, monkeypatch):
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "log.txt"))
    with pytest.raises(TargetError) as err:
        with runtime_call("openvino", "inference", code="OVN106", nodes=["conv3"]):
            raise RuntimeError("Exception from src/plugin.cpp:12:\nnode conv3 cannot run: bad layout\n  frame")
    assert err.value.code == "OVN106" and err.value.node == "conv3"
    assert err.value.message.startswith("OpenVINO") and "refused inference at node 'conv3'" in err.value.message
    assert err.value.__suppress_context__  # the user sees our line, not the runtime's traceback
    assert "frame" in (tmp_path / "log.txt").read_text()  # the raw text went to the log


def test_the_error_class_and_hint_are_the_callers(tmp_path):
    with pytest.raises(StageError) as err:
        with runtime_call("onnx", "the checker", code="ONNX109", error=StageError, hint="fix it"):
            raise ValueError("bad graph")
    assert err.value.code == "ONNX109" and err.value.hint == "fix it"


def test_our_own_errors_and_an_interrupt_pass_through_untouched():
    mine = TargetError("ours", code="TGT005")
    with pytest.raises(TargetError) as err:
        with runtime_call("mxnet", "forward", code="MXN001"):
            raise mine
    assert err.value is mine
    with pytest.raises(KeyboardInterrupt):
        with runtime_call("mxnet", "forward", code="MXN001"):
            raise KeyboardInterrupt


def test_what_a_failing_call_printed_goes_to_the_log_and_a_succeeding_calls_to_stdout(tmp_path, monkeypatch,
                                                                                      capsys):
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "log.txt"))
    with pytest.raises(TargetError):
        with runtime_call("mxnet", "infer_shape", code="MXN002"):
            print("infer_shape error. Arguments: data: (1, 3)")
            raise RuntimeError("shape mismatch")
    with runtime_call("mxnet", "forward", code="MXN001"):
        print("a harmless note")
    out = capsys.readouterr().out
    assert out == "a harmless note\n"
    assert "infer_shape error. Arguments" in (tmp_path / "log.txt").read_text()


def test_a_supervised_worker_leaves_a_breadcrumb_naming_the_call(tmp_path, monkeypatch):
    import numpy as np

    crumb = tmp_path / "activity.json"
    monkeypatch.setenv(activity.ENV, str(crumb))
    with runtime_call("onnxruntime", "inference", code="ORT106", feed={"data": np.arange(4.0)}):
        written = json.loads(crumb.read_text())
    assert written["runtime"] == "ONNX Runtime" and written["action"] == "inference"
    assert written["feed"]["data"][2:] == [0.0, 3.0] and written["version"]
