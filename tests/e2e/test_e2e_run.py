"""End to end: `pipeline run` / `pipeline validate` through the real CLI, in subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FACTORIES = textwrap.dedent('''
    import os
    from mxnet import gluon


    class TinyNet(gluon.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.conv = gluon.nn.Conv2D(4, 3, padding=1)
                self.bn = gluon.nn.BatchNorm()
                self.fc = gluon.nn.Dense(5)

        def hybrid_forward(self, F, x):
            return self.fc(F.relu(self.bn(self.conv(x))))


    def tiny():
        return TinyNet()


    def aborting():
        os.abort()
''')


def _cli(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "factories.py").write_text(FACTORIES)
    return tmp_path


def _write(project: Path, body: str) -> Path:
    path = project / "pipelines.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_run_writes_reports_and_passes(project):
    _write(project, """
        version: 1
        defaults:
          verify: {atol: 1.0e-4, rtol: 1.0e-3, runs: 3}
        pipelines:
          tiny-symbol:
            source: {gluon: {factory: "factories:tiny"}}
            inputs: {data: {shape: [2, 3, 8, 8]}}
            stages:
              - deploy: {target: cpu, api: symbol}
              - verify: {input: random, seed: 1}
          tiny-module:
            source: {gluon: {factory: "factories:tiny"}}
            inputs: {data: {shape: [1, 3, 8, 8]}}
            stages:
              - deploy: {target: cpu, api: module}
              - verify
    """)
    proc = _cli("run", "pipelines.yaml", "--out", "out", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((project / "out" / "report.json").read_text())
    assert set(report) >= {"run_id", "started", "seconds", "pipelines"}
    assert [p["name"] for p in report["pipelines"]] == ["tiny-symbol", "tiny-module"]
    for pipe in report["pipelines"]:
        assert pipe["status"] == "passed"
        assert [s["name"] for s in pipe["stages"]] == ["gluon", "deploy", "verify"]
        verify = pipe["stages"][-1]
        for key in ("max_abs_err", "max_rel_err", "cosine", "top1_agreement", "latency_ms"):
            assert key in verify["metrics"], key
        assert verify["metrics"]["max_abs_err"] <= 1e-4
        bundle = pipe["stages"][0]["artifacts"]["bundle"]
        assert not Path(bundle).is_absolute() and (project / "out" / bundle).is_file()
    assert (project / "out" / "tiny-symbol" / "00-gluon" / "model-symbol.json").is_file()
    assert (project / "out" / "tiny-symbol" / "01-deploy" / "bundle.json").is_file()
    assert "tiny-module" in (project / "out" / "report.md").read_text()


def test_native_crash_fails_only_its_pipeline(project):
    _write(project, """
        version: 1
        pipelines:
          healthy:
            source: {gluon: {factory: "factories:tiny"}}
            inputs: {data: {shape: [1, 3, 8, 8]}}
            stages: [deploy, verify]
          aborts:
            source: {gluon: {factory: "factories:aborting"}}
            inputs: {data: {shape: [1, 3, 8, 8]}}
            stages: [deploy, verify]
    """)
    proc = _cli("run", "pipelines.yaml", "--out", "out", "--jobs", "2", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((project / "out" / "report.json").read_text())
    statuses = {p["name"]: p["status"] for p in report["pipelines"]}
    assert statuses == {"healthy": "passed", "aborts": "crashed"}
    crashed = report["pipelines"][1]
    assert "SIGABRT" in crashed["reason"]
    assert crashed["stages"][0]["diagnostics"][0]["code"] == "RUN001"
    assert [s["status"] for s in crashed["stages"]] == ["error", "skipped", "skipped"]
    assert "Traceback" not in proc.stderr


def test_validate_reports_every_mistake_with_location(project):
    path = _write(project, """
        version: 1
        pipelines:
          r50:
            source: {gluon: {model: resnet50_v1}}
            inputs: {data: {shape: [1, 3, 224, 224]}}
            stages:
              - deploy: {target: cpuu}
              - verify: {atol: tight}
              - chek: {}
    """)
    proc = _cli("validate", str(path.name), cwd=project)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, proc.stderr
    assert lines[0].startswith("pipelines.yaml:8:26: pipeline 'r50': stages[0].deploy.target: unknown target 'cpuu'")
    assert lines[1].startswith("pipelines.yaml:9:24: pipeline 'r50': stages[1].verify.atol: expected a number, got 'tight'")
    assert lines[2].startswith("pipelines.yaml:10:9: pipeline 'r50': stages[2]: unknown stage 'chek' (did you mean 'check'?)")
    assert all(line.endswith("]") for line in lines)
    assert "Traceback" not in proc.stderr
    assert not (project / "runs").exists()


def test_run_refuses_bad_config_before_any_work(project):
    _write(project, "version: 1\npipelines:\n  x:\n    source: {gluon: {model: resnet18_v1}, onnx: {path: a.onnx}}\n")
    proc = _cli("run", "pipelines.yaml", "--out", "out", cwd=project)
    assert proc.returncode == 2
    assert "CFG007" in proc.stderr and "Traceback" not in proc.stderr
    assert not (project / "out").exists()


def test_stages_lists_params():
    proc = _cli("stages", cwd=REPO)
    assert proc.returncode == 0
    for name in ("gluon", "checkpoint", "deploy", "verify"):
        assert name in proc.stdout
    assert "atol" in proc.stdout


def test_tampered_bundle_is_refused(project):
    _write(project, """
        version: 1
        pipelines:
          tiny:
            source: {gluon: {factory: "factories:tiny"}}
            inputs: {data: {shape: [1, 3, 8, 8]}}
            stages: [deploy]
    """)
    assert _cli("run", "pipelines.yaml", "--out", "out", cwd=project).returncode == 0
    stage = project / "out" / "tiny" / "01-deploy"
    ok = _cli("check", str(stage), "--target", "cpu", cwd=project)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    params = stage / "model-0000.params"
    raw = bytearray(params.read_bytes())
    raw[len(raw) // 2:] = bytes(len(raw) - len(raw) // 2)  # MXNet itself would load this silently
    params.write_bytes(bytes(raw))
    proc = _cli("check", str(stage), "--target", "cpu", cwd=project)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "BND002" in line and "model-0000.params" in line and "Traceback" not in line
    assert len(line.splitlines()) == 1
