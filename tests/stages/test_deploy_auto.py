"""deploy target auto: tunes, deploys the choice, records the table and the reason."""
import json
from pathlib import Path

import pytest

import stages.deploy  # noqa: F401
import stages.sources.gluon  # noqa: F401
import stages.verify  # noqa: F401
from pipeline.core.errors import StageError
from pipeline.core.paramspec import build_params
from stages.deploy import Deploy, DeployParams
from pipeline.precision.settings import QuantizeParams
from stages.quantize import Quantize  # noqa: F401  (registers quantize)
from stages.sources.gluon import GluonParams
from stages.verify import VerifyParams
from pipeline.precision.tuning import TuneSettings


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(stages.deploy, "AUTO_SETTINGS", TuneSettings(samples=4, holdout=8, runs=2, warmup=1))


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
    monkeypatch.setattr(stages.deploy, "AUTO_SETTINGS", TuneSettings(samples=4, holdout=4, runs=1, warmup=0,
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


def test_a_cached_auto_choice_is_recomputed_on_a_host_with_other_cpu_flags(tmp_path, monkeypatch):
    """deploy is host-dependent: its cache key holds the CPU model and flags (pipeline/run/cache.py)."""
    import stages  # noqa: F401
    from pipeline.precision import cpuflags, tuning
    from pipeline.run.config import load_config
    from pipeline.run.worker import CellOptions, run_pipeline

    examples = Path(__file__).resolve().parents[2] / "examples"
    (tmp_path / "p.yaml").write_text(
        "version: 1\npipelines:\n  auto:\n"
        f"    source: {{checkpoint: {{prefix: {examples / 'digits-mlp'}, epoch: 0}}}}\n"
        "    inputs: {data: {shape: [1, 64]}}\n    stages:\n      - deploy: {target: auto}\n")
    spec = load_config(tmp_path / "p.yaml").pipelines[0]
    monkeypatch.setattr(tuning, "available_candidates", lambda flags=None: [("cpu", "fp32")])
    options = CellOptions(cache_dir=str(tmp_path / "cache"))

    def host(flags: str):
        (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n")
        monkeypatch.setattr(cpuflags, "CPUINFO", tmp_path / "cpuinfo")
        cpuflags.cpu_flags.cache_clear()
        cpuflags.cpu_model.cache_clear()

    def statuses(run: str):
        result = run_pipeline(spec, tmp_path / run, tmp_path / run / "auto", None, options)
        return [s["status"] for s in result["stages"]]

    try:
        host("fpu sse2 avx2 fma")
        assert statuses("r1") == ["passed", "passed"]
        assert statuses("r2") == ["cached", "cached"]
        host("fpu sse2 avx2 fma avx512f avx512_bf16 amx_bf16")
        assert statuses("r3") == ["cached", "passed"]  # the source does not depend on the host
        host("fpu sse2 avx2 fma nx_bug_flag")  # a flag that decides no speed keeps the key
        assert statuses("r4") == ["cached", "cached"]
    finally:
        cpuflags.cpu_flags.cache_clear()
        cpuflags.cpu_model.cache_clear()


def test_auto_with_a_crashing_candidate_completes_and_reports_it(make_runner, monkeypatch):
    """t_crash aborts its process in deploy, t_refuse raises a runtime's multi-line text
    (tests/plugins/crash_targets.py, loaded by each candidate's child process): the auto cell still
    deploys the passing candidate, and the others are rows with their coded reasons."""
    import os

    from pipeline.precision import tuning

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", f"{repo}{os.pathsep}{repo / 'tests' / 'plugins'}")
    monkeypatch.setenv("MXDEPLOY_PLUGINS", "crash_targets")
    monkeypatch.setattr(tuning, "available_candidates",
                        lambda flags=None: [("cpu", "fp32"), ("t_crash", "fp32"), ("t_refuse", "fp32")])
    runner = make_runner([("data", (1, 3, 16, 16))])
    fp32, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet"))
    out, result = runner.run("deploy", fp32, DeployParams(target="auto"))
    auto = result.metrics["auto"]
    rows = {r["target"]: r["status"] for r in auto["table"]}
    assert rows == {"cpu": "passed", "t_crash": "crashed", "t_refuse": "error"}
    assert auto["choice"]["target"] == "cpu" and out.metadata["deployment"]["target"] == "cpu"
    assert auto["details"]["t_crash fp32"].startswith("TUN103 ") and "SIGABRT" in auto["details"]["t_crash fp32"]
    assert auto["details"]["t_refuse fp32"].startswith("ORT101 ") and "Stack trace" not in auto["details"]["t_refuse fp32"]
