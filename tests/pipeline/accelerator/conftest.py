"""Fixtures for the accelerator tests: a tiny model, an in-process server and a client."""
from __future__ import annotations

import pytest
from accel_helpers import TinyModel


@pytest.fixture(scope="session")
def tiny():
    return TinyModel()


@pytest.fixture
def server():
    from pipeline.accelerator.server import AcceleratorServer

    srv = AcceleratorServer("eia1.medium", token="secret").start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    from pipeline.accelerator.client import AcceleratorClient

    c = AcceleratorClient(server.address, "secret", connect_timeout=2, timeout=20)
    yield c
    c.close()
