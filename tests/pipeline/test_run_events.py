"""Typed progress events and the one stage-report type the worker and the supervisor share."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline.core.paramspec import NoParams
from pipeline.run.events import PipelineEnd, PipelineStart, RunStart, StageEnd, StageStart, from_line, to_line
from pipeline.run.stage_report import StageReport
from stages.deploy import DeployParams
from stages.verify import VerifyParams


@pytest.mark.parametrize("event", [RunStart(3), PipelineStart("p", 4), StageStart("p", 1, "verify"),
                                   StageEnd("p", 1, {"name": "verify", "status": "passed"}), PipelineEnd("p", "failed")])
def test_events_cross_the_worker_pipe_unchanged(event):
    assert from_line(to_line(event)) == event
    assert from_line(to_line(event).encode()) == event


@pytest.mark.parametrize("line", [b'{"event": "stage_end", "pipeline": "p"', b'["stage_end", "p", 1, {}]',
                                  b'{"event": "no_such"}', b""])
def test_a_torn_or_foreign_line_is_no_event(line):
    assert from_line(line) is None


@dataclass(frozen=True)
class _Spec:
    name: str
    params: object


def test_stage_reports_record_what_their_stage_declares_for_the_summary():
    verify = StageReport.of(_Spec("verify", VerifyParams()), "passed", seconds=1.0,
                            metrics={"max_abs_err": 1e-6, "latency_ms": {"p50": 2.0}}).to_dict()
    assert verify["summary"] == {"max_abs_err": 1e-6, "p50_ms": 2.0}
    assert list(verify)[:7] == ["name", "status", "seconds", "metrics", "diagnostics", "artifacts", "params"]
    deploy = StageReport.skipped(_Spec("deploy", DeployParams(target="onnxruntime"))).to_dict()
    assert deploy["status"] == "skipped" and deploy["summary"] == {"target": "onnxruntime"}
    assert "cache" not in deploy
    unknown = StageReport.of(_Spec("my_deploy_plugin", NoParams()), "passed", metrics={"target": "cpu"}).to_dict()
    assert unknown["summary"] == {}  # no declaration, no summary: a stage name means nothing
