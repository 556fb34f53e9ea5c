"""deploy target auto: tunes, deploys the choice, records the table and the reason."""
import json

import pytest

import stages.deploy  # noqa: F401
import stages.sources.gluon  # noqa: F401
import stages.verify  # noqa: F401
from pipeline.core.errors import StageError
from pipeline.core.paramspec import build_params
from stages import deploy_auto
from stages.deploy import Deploy, DeployParams
from pipeline.precision.settings import QuantizeParams
from stages.quantize import Quantize  # noqa: F401  (registers quantize)
from stages.sources.gluon import GluonParams
from stages.verify import VerifyParams
from pipeline.precision.tuning import TuneSettings


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(deploy_auto, "AUTO_SETTINGS", TuneSettings(samples=4, holdout=8, runs=2, warmup=1))


def test_auto_deploys_the_fastest_passing_candidate(make_runner):
    runner = make_runner([("data", (1, 3, 16, 16))])
    fp32, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet"))
    out, result = runner.run("deploy", fp32, DeployParams(target="auto"))
    auto = result.metrics["auto"]
    passed = [r for r in auto["table"] if r["status"] == "passed"]
    best = min(passed, key=lambda r: r["p50_ms"])
    assert auto["choice"]["target"] == best["target"] and auto["choice"]["precision"] == best["precision"]
    assert auto["choice"]["reason"].startswith(f"{best['target']} {best['precision']} is the fastest")
    assert out.metadata["deployment"]["target"] == best["target"]
    if best["precision"] != "fp32":
        assert out.metadata["quantized"]["precision"] == best["precision"]
    saved = json.loads((runner.last_ctx.stage_dir / "tune.json").read_text())
    assert saved["table"] == auto["table"] and result.artifacts == {"tune": "tune.json"}
    _, verified = runner.run("verify", out, VerifyParams(atol=0.05, rtol=0.2, runs=2, warmup=1))
    assert verified.status == "passed", verified.diagnostics


def test_auto_fails_with_the_table_when_nothing_passes(make_runner, monkeypatch):
    monkeypatch.setattr(deploy_auto, "AUTO_SETTINGS", TuneSettings(samples=4, holdout=4, runs=1, warmup=0,
                                                                   min_cosine=1.5))
    runner = make_runner([("data", (1, 3, 16, 16))])
    fp32, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet"))
    _, result = runner.run("deploy", fp32, DeployParams(target="auto"))
    assert result.status == "failed" and result.diagnostics[0].code == "TUN101"
    assert "cosine" in result.diagnostics[0].message and result.metrics["auto"]["choice"] is None
    assert runner.session is None


def test_auto_refuses_a_quantized_bundle(make_runner):
    runner = make_runner([("data", (1, 3, 16, 16))])
    fp32, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet"))
    q, _ = runner.run("quantize", fp32, QuantizeParams(target="onednn", holdout=4))
    with pytest.raises(StageError) as err:
        runner.run("deploy", q, DeployParams(target="auto"))
    assert err.value.code == "TUN102"


def test_auto_is_a_valid_target_and_needs_the_symbol_api():
    params, issues = build_params(DeployParams, {"target": "auto"})
    assert not issues and Deploy.check_params(params) == []
    params, _ = build_params(DeployParams, {"target": "auto", "api": "module"})
    assert [i.path for i in Deploy.check_params(params)] == [("api",)]
