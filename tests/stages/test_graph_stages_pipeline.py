"""optimize + partition inside a real pipeline: YAML validation and the worker's stage loop."""
import json
import textwrap
from dataclasses import dataclass

import pytest

import stages.optimize  # noqa: F401  (registers optimize; stages/__init__ lists it after merge)
import stages.partition  # noqa: F401  (registers partition)
import pipeline.partition.runtime  # noqa: F401
from pipeline.model.bundle import ModelBundle
from pipeline.run.config import load_config
from pipeline.core.errors import ConfigError
from pipeline.graph import random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.core.paramspec import param
from pipeline.core.stage import STAGES, Stage, StageResult
from pipeline.run.worker import run_pipeline


@dataclass(frozen=True)
class _ZooParams:
    model: str = param("resnet18_v1", help="zoo name")
    side: int = param(64, help="input side")


class _ZooSource(Stage):
    """A private source for this test: a random-weight zoo model at a small size."""

    name = "testzoograph"
    kind = "source"
    Params = _ZooParams

    def run(self, bundle, params, ctx):
        return zoo_bundle(params.model, (1, 3, params.side, params.side)), StageResult()


@pytest.fixture(autouse=True)
def zoo_source(monkeypatch):
    """The private source is registered only while these tests run."""
    monkeypatch.setitem(STAGES._items, _ZooSource.name, _ZooSource)


YAML = """\
version: 1
pipelines:
  r18:
    source:
      testzoograph: {model: resnet18_v1, side: 64}
    inputs:
      data: {shape: [1, 3, 64, 64]}
    stages:
      - optimize: {passes: [eliminate, fold_batchnorm, cse]}
      - partition: {target: cpu, exclude_ops: [Pooling]}
"""


def test_pipeline_runs_optimize_then_partition(tmp_path):
    (tmp_path / "p.yaml").write_text(YAML)
    (spec,) = load_config(tmp_path / "p.yaml").pipelines
    result = run_pipeline(spec, tmp_path, tmp_path / "r18")
    assert [s["status"] for s in result["stages"]] == ["passed", "passed", "passed"], result
    optimize, partition = result["stages"][1:]
    assert [p["name"] for p in optimize["metrics"]["passes"]] == ["eliminate", "fold_batchnorm", "cse"]
    assert partition["metrics"]["subgraphs"] == 3 and partition["metrics"]["cpu_nodes"] == 2
    assert set(partition["artifacts"]) == {"bundle", "plan", "plan_dot"}
    assert json.loads((tmp_path / partition["artifacts"]["plan"]).read_text())["target"] == "cpu"
    source = ModelBundle.load(tmp_path / "r18" / "00-testzoograph")
    deployed = ModelBundle.load(tmp_path / "r18" / "02-partition")
    assert [h["stage"] for h in deployed.history] == ["optimize"] * 3 + ["partition"]
    feed = random_feed(source.inputs, seed=11)
    assert compare(run_bundle(source, feed), run_bundle(deployed, feed), atol=1e-4, rtol=1e-3).passed


def test_bad_pass_and_target_names_point_at_the_yaml(tmp_path):
    bad = YAML.replace("fold_batchnorm", "fold_batchnrom").replace("target: cpu", "target: cpux")
    path = tmp_path / "p.yaml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = info.value.lines()
    assert any(":9:40:" in line and "unknown pass 'fold_batchnrom' (did you mean 'fold_batchnorm'?)" in line
               and "[CFG014]" in line for line in lines), lines
    assert any(":10:29:" in line and "unknown target 'cpux'" in line for line in lines), lines
