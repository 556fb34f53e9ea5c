"""The dask executor on a real LocalCluster (2 worker processes, loopback) matches the local one.

The scenario runs in a fresh spawned process: it registers the test stages (MXDEPLOY_PLUGINS),
which must not leak into the registries of the pytest process that other tests inspect.
"""
from __future__ import annotations

import os
import textwrap
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

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


def _summary(result) -> dict:
    return {p["name"]: [p["status"], [s["status"] for s in p["stages"]], p.get("reason", "")]
            for p in result.pipelines}


def _scenario(tmp: str) -> dict:
    """Runs in a spawned process: local run, Dask run, Dask run with shipped artifacts."""
    import sys

    os.environ["PYTHONPATH"] = f"{REPO}{os.pathsep}{PLUGINS}"  # inherited by the cluster's workers
    os.environ["MXDEPLOY_PLUGINS"] = "runner_test_stages"
    sys.path.insert(0, str(PLUGINS))
    from distributed import LocalCluster

    from pipeline.run.config import load_config
    from pipeline.core.errors import UsageError
    from pipeline.run.runner import run_pipelines
    from pipeline.run.worker import CellOptions

    tmp_path = Path(tmp)
    (tmp_path / "pipelines.yaml").write_text(textwrap.dedent(PIPELINES))
    specs = load_config(tmp_path / "pipelines.yaml").pipelines
    options = CellOptions(cache_dir=None)
    out = {"local": _summary(run_pipelines(specs, tmp_path / "local", jobs=2, options=options))}
    events = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = run_pipelines(specs, tmp_path / "dask", executor="dask", options=options,
                               scheduler=cluster.scheduler_address, observer=events.append)
        # as if the workers could not see the run dir: the cell's folder comes back in the result
        shipped = run_pipelines(specs[:1], tmp_path / "shipped", executor="dask", options=options,
                                scheduler=cluster.scheduler_address, force_ship=True)
    out.update(dask=_summary(remote), shipped=_summary(shipped), events=sorted({e.kind for e in events}))
    out["artifacts"] = {run: result.pipelines[0]["stages"][0]["artifacts"]["bundle"]
                        for run, result in (("dask", remote), ("shipped", shipped))}
    out["metrics"] = [remote.pipelines[0]["stages"][2]["metrics"]]
    try:
        run_pipelines(specs, tmp_path / "x", executor="dask")
    except UsageError as exc:
        out["no_scheduler"] = exc.message
    return out


def test_dask_local_cluster_gives_the_local_statuses_and_artifacts(tmp_path):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        out = pool.submit(_scenario, str(tmp_path)).result(timeout=600)
    assert out["local"] == out["dask"]
    assert out["shipped"] == {"ok": out["local"]["ok"]}
    assert out["local"]["aborts"][0] == "crashed" and "SIGABRT" in out["local"]["aborts"][2]
    assert out["local"]["fails"][0] == "failed" and out["local"]["ok"][0] == "passed"
    assert out["events"] == ["pipeline_end", "run_start"]
    for run in ("dask", "shipped"):  # artifacts written on the shared run dir, or shipped back
        root = tmp_path / run
        assert (root / out["artifacts"][run]).is_file()
        assert (root / "ok" / "01-t_deploy" / "bundle.json").is_file()
        assert (root / "ok" / "log.txt").is_file()
        assert not (root / ".mxdeploy-run-token").exists()
    assert out["metrics"][0]["target"] == "cpu" and out["metrics"][0]["redeployed"] is False
    assert "--scheduler" in out["no_scheduler"]
