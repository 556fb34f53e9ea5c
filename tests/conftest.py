"""Shared test setup: `--run-slow` enables the long model-zoo sweeps marked `slow`."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

import stages  # noqa: F401  (registers the stages, as the CLI's and the worker's entry points do)

os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
# Test runs keep their stage cache out of ~/.cache, in a folder removed when the run ends (a
# suite run caches ~3 GB of exported models; left behind, a few runs fill the disk).
if "MXDEPLOY_CACHE_DIR" not in os.environ:
    _cache_dir = tempfile.mkdtemp(prefix="mxdeploy-test-cache-")
    os.environ["MXDEPLOY_CACHE_DIR"] = _cache_dir
    atexit.register(shutil.rmtree, _cache_dir, True)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (whole model-zoo sweeps)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow sweep: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
