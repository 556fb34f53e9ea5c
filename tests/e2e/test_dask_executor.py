"""The dask executor on a real LocalCluster (2 worker processes, loopback) matches the local one."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "plugins"

PIPELINES = """
version: 1
defaults:
  inputs: {data: {shape: [1, 6]}}
pipelines:
  ok:
    source: {tiny_fc: {}}
    stages:
      - t_deploy: {target: cpu}
      - t_verify: {p50: 1.5}
  fails:
    source: {tiny_fc: {hidden: 2}}
    stages:
      - t_deploy: {target: onnxruntime}
      - t_verify: {fail: true}
  aborts:
    source: {tiny_fc: {}}
    stages: [t_abort]
"""


@pytest.fixture()
def config(tmp_path, monkeypatch):
    # The cluster's worker processes inherit this environment: they find the test stages.
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{PLUGINS}")
    monkeypatch.setenv("MXDEPLOY_PLUGINS", "runner_test_stages")
    monkeypatch.syspath_prepend(str(PLUGINS))
    from pipeline.config import load_config

    (tmp_path / "pipelines.yaml").write_text(textwrap.dedent(PIPELINES))
    return load_config(tmp_path / "pipelines.yaml")


def _summary(result) -> dict:
    return {p["name"]: (p["status"], [s["status"] for s in p["stages"]], p.get("reason", "")) for p in result.pipelines}


def test_dask_local_cluster_gives_the_local_statuses_and_artifacts(config, tmp_path):
    from distributed import LocalCluster

    from pipeline.runner import run_pipelines
    from pipeline.worker import CellOptions

    options = CellOptions(cache_dir=None)
    local = run_pipelines(config.pipelines, tmp_path / "local", jobs=2, options=options)
    events = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = run_pipelines(config.pipelines, tmp_path / "dask", executor="dask", options=options,
                               scheduler=cluster.scheduler_address, observer=events.append)
        # as if the workers could not see the run dir: the cell's folder comes back in the result
        shipped = run_pipelines(config.pipelines[:1], tmp_path / "shipped", executor="dask", options=options,
                                scheduler=cluster.scheduler_address, force_ship=True)
    assert _summary(local) == _summary(remote)
    assert _summary(shipped) == {"ok": _summary(local)["ok"]}
    assert _summary(local)["aborts"][0] == "crashed" and "SIGABRT" in _summary(local)["aborts"][2]
    assert _summary(local)["fails"][0] == "failed"
    assert {e[0] for e in events} >= {"run_start", "pipeline_start", "pipeline_end"}
    for run in ("dask", "shipped"):  # artifacts written on the shared run dir, or shipped back
        root = tmp_path / run
        assert (root / "ok" / "01-t_deploy" / "bundle.json").is_file()
        assert (root / "ok" / "log.txt").is_file()
        assert not (root / ".mxdeploy-run-token").exists()
        ok = next(p for p in (remote if run == "dask" else shipped).pipelines if p["name"] == "ok")
        assert (root / ok["stages"][0]["artifacts"]["bundle"]).is_file()
    verify = next(p for p in remote.pipelines if p["name"] == "ok")["stages"][2]["metrics"]
    assert verify == next(p for p in local.pipelines if p["name"] == "ok")["stages"][2]["metrics"]


def test_dask_without_scheduler_is_a_usage_error(config, tmp_path):
    from pipeline.errors import UsageError
    from pipeline.runner import run_pipelines

    with pytest.raises(UsageError, match="--scheduler"):
        run_pipelines(config.pipelines, tmp_path / "x", executor="dask")
