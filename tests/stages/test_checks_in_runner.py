"""The check stage inside the real runner (pipeline.run.worker.run_pipeline).

A throwaway source stage is registered in a child process (the stage registry is global and
read-only after import, so it must not leak into this test process); the child runs the
pipeline and prints the result.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]

CHILD = textwrap.dedent('''
    import json, sys
    from dataclasses import dataclass
    from pathlib import Path
    import mxnet as mx
    import numpy as np
    import stages.check  # noqa: F401
    from pipeline.model.bundle import ModelBundle, TensorSpec
    from pipeline.run.config.model import PipelineSpec, StageSpec
    from pipeline.core.paramspec import build_params
    from pipeline.core.stage import STAGES, Stage, StageResult, register_stage
    from pipeline.run.worker import run_pipeline

    @register_stage
    class TinySource(Stage):
        name = "tinysource"
        kind = "source"
        def run(self, bundle, params, ctx):
            x = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc0")
            args = {"fc0_weight": np.ones((3, 4), "float32"), "fc0_bias": np.zeros(3, "float32")}
            b = ModelBundle.from_symbol(x, args, {}, ctx.inputs, metadata={"mxnet_version": 10901})
            return b, StageResult()

    @dataclass(frozen=True)
    class DeployParams:
        target: str = "eia1.medium"
        for_training: bool = False

    check, _ = build_params(STAGES.get("check").Params, {"target": "eia1.medium"})
    spec = PipelineSpec(name="p", source=StageSpec("tinysource", None),
                        inputs=(TensorSpec("data", (2, 4)),),
                        stages=(StageSpec("check", check),
                                StageSpec("deploy", DeployParams(for_training=sys.argv[2] == "train"))),
                        config_dir=Path(sys.argv[1]))
    run_dir = Path(sys.argv[1])
    result = run_pipeline(spec, run_dir, run_dir / "p")
    print(json.dumps(result))
''')


def run_child(tmp_path, mode):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), mode], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_training_deploy_fails_at_check_and_stops_the_pipeline(tmp_path):
    result = run_child(tmp_path, "train")
    source, check, deploy = result["stages"]
    assert check["status"] == "failed" and deploy["status"] == "skipped"
    assert [d["code"] for d in check["diagnostics"]] == ["EI201"]
    assert check["artifacts"] == {"check": "p/01-check/check.json"}
    report = json.loads((tmp_path / "p" / "01-check" / "check.json").read_text())
    assert report["diagnostics"][0]["code"] == "EI201" and report["memory"]["smallest_fit"] == "eia1.medium"
    assert result["status"] == "failed"


def test_clean_pipeline_passes_check_with_metrics(tmp_path):
    result = run_child(tmp_path, "infer")
    check = result["stages"][1]
    assert check["status"] == "passed" and check["diagnostics"] == []
    assert check["metrics"]["memory_bytes"] > 0 and check["metrics"]["unsupported_ops"] == 0
    assert not (tmp_path / "p" / "01-check" / "bundle.json").exists()  # check yields no new bundle
    # (the stand-in deploy params have no registered deploy stage here; that stage is not under test)
