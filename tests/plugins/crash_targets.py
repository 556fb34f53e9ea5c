"""Test-only targets that fail the way native runtimes do, registered through MXDEPLOY_PLUGINS.

`t_crash` aborts its process in deploy (`t_crash_infer` in its first forward), as a runtime's failed native assertion does (OpenVINO
on a QDQ graph segfaulted like this); `t_refuse` raises an untyped RuntimeError from inside
a runtime call, as ONNX Runtime and OpenVINO do. Both declare `tune`, so `pipeline tune` and
`deploy: {target: auto}` try them.

    PYTHONPATH=tests/plugins MXDEPLOY_PLUGINS=crash_targets pipeline tune MODEL --target cpu --target t_crash
"""
from __future__ import annotations

import os

from pipeline.core.runtime_errors import runtime_call
from pipeline.targets.base import Target, register_target


@register_target
class AbortingTarget(Target):
    name = "t_crash"
    summary = "test only: aborts the process (SIGABRT) in deploy"
    tune = {"fp32": {}}

    def _deploy_impl(self, bundle) -> None:
        with runtime_call("onnxruntime", "the session for the test model", code="ORT101"):
            os.abort()


@register_target
class CrashInInferTarget(Target):
    name = "t_crash_infer"
    summary = "test only: deploys, then aborts the process (SIGABRT) in its first forward"

    def _deploy_impl(self, bundle) -> None:
        pass

    def _infer_impl(self, feed):
        with runtime_call("onnxruntime", "inference", code="ORT102", feed=feed):
            os.abort()


@register_target
class RefusingTarget(Target):
    name = "t_refuse"
    summary = "test only: its 'runtime' refuses every model with a multi-line native message"
    tune = {"fp32": {}}

    def _deploy_impl(self, bundle) -> None:
        with runtime_call("onnxruntime", "the session for the test model", code="ORT101"):
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Load model failed:\n"
                               "Node (conv0) Op (Conv) [ShapeInferenceError] kernel shape mismatch\n"
                               "Stack trace:\n  frame 1\n  frame 2")
