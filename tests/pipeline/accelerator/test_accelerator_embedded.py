"""The embedded accelerator: started on demand, reached through resolve_accelerator, gone with its parent."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from accel_helpers import PYTHON, child_env

from pipeline.accelerator import embedded
from pipeline.accelerator.client import AcceleratorClient


def test_embedded_start_resolve_and_stop(monkeypatch):
    monkeypatch.delenv(embedded.ENV_ADDRESS, raising=False)
    acc = embedded.EmbeddedAccelerator("eia2.medium").start()
    try:
        assert acc.address[0] == "127.0.0.1" and acc.address[1] > 0
        with AcceleratorClient(acc.address, acc.token) as client:
            info = client.hello()
            assert info["size"] == "eia2.medium" and info["memory_bytes"] == 2 << 30
        with AcceleratorClient(acc.address, "wrong") as bad, pytest.raises(Exception, match="token"):
            bad.health()
    finally:
        proc = acc.proc
        acc.stop()
    assert proc.returncode == 0


def test_environment_and_pipeline_setting_name_a_running_server(monkeypatch, tmp_path):
    (tmp_path / "tok").write_text("abc\n")
    monkeypatch.setenv(embedded.ENV_TOKEN_FILE, str(tmp_path / "tok"))
    monkeypatch.setenv(embedded.ENV_ADDRESS, "10.1.2.3:7001")
    assert embedded.resolve_accelerator({"accelerator": {"address": "127.0.0.1:9"}}) == ("10.1.2.3:7001", "abc")
    monkeypatch.delenv(embedded.ENV_ADDRESS)
    assert embedded.resolve_accelerator({"accelerator": {"address": "127.0.0.1:9"}}) == ("127.0.0.1:9", "abc")


PARENT = """
import sys
from pipeline.accelerator.embedded import embedded
acc = embedded("eia1.medium")
print(acc.proc.pid, flush=True)
sys.stdin.read()
"""


def test_embedded_server_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([PYTHON, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=child_env())
    child_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return
        try:   # reap if it is ours (it is not: it was the parent's child, reparented to init)
            os.waitpid(child_pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    os.kill(child_pid, signal.SIGKILL)
    pytest.fail("the embedded server outlived its parent")
