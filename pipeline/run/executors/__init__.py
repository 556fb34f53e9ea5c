"""Executors: where cells run. Each module registers one on import; listed explicitly here.

An executor is `run(specs, run_dir, options, *, jobs, scheduler, observer) -> [result dict]`,
results in the order of `specs`. Every executor runs each cell in its own worker process
through `supervise.CellProcess`, so crash isolation and the limits do not depend on where.
"""
from pipeline.run.executors import local  # noqa: F401  (registers "local")
from pipeline.run.executors import dask_cluster  # noqa: F401  (registers "dask"; imports distributed only when used)
from pipeline.run.executors.base import EXECUTORS

__all__ = ["EXECUTORS"]
