"""The client's reliability on loopback: many client processes, a server killed or frozen mid-run, restarts."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
from accel_helpers import PYTHON, ROOT, child_env, spawn_server

from pipeline.accelerator.client import AcceleratorClient
from pipeline.accelerator.errors import AcceleratorTimeout, AcceleratorUnavailable

CLIENT = str(ROOT / "tests/pipeline/accelerator/load_client.py")
CODES_FOR_A_DEAD_SERVER = {"ACC101", "ACC103"}


@pytest.fixture
def model_dir(tmp_path, tiny):
    folder = tmp_path / "model"
    folder.mkdir()
    np.save(folder / "w.npy", tiny.weight)
    np.save(folder / "b.npy", tiny.bias)
    (folder / "symbol.json").write_text(tiny.symbol_json)
    return folder


@pytest.fixture
def child_server(tmp_path):
    procs = []

    def start(port=0):
        proc, address = spawn_server(tmp_path, port)
        procs.append(proc)
        return proc, address

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def run_clients(address, tmp_path, model_dir, n, forwards):
    addr = f"{address[0]}:{address[1]}"
    return [subprocess.Popen([PYTHON, CLIENT, addr, str(tmp_path / "token"), str(model_dir), str(forwards), str(i)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), text=True)
            for i in range(n)]


def test_sixteen_client_processes_times_200_forwards(tmp_path, model_dir, child_server):
    _, address = child_server()
    clients = run_clients(address, tmp_path, model_dir, 16, 200)
    results = [p.communicate(timeout=120) for p in clients]
    assert [p.returncode for p in clients] == [0] * 16, results
    assert all(out.strip() == "ok 200" for out, _ in results)


def test_server_killed_mid_run_gives_coded_errors_within_the_timeout(tmp_path, model_dir, child_server):
    proc, address = child_server()
    clients = run_clients(address, tmp_path, model_dir, 4, 0)     # forward until an error
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    results = [p.communicate(timeout=20) for p in clients]
    assert time.monotonic() - killed < 15
    for p, (out, err) in zip(clients, results):
        assert p.returncode == 3, (out, err)
        code, seconds = out.split()[1], float(out.split()[2])
        assert code in CODES_FOR_A_DEAD_SERVER and seconds < 5 + 2, out


def test_same_client_recovers_after_kill_and_restart_on_the_same_port(tmp_path, tiny, child_server):
    proc, address = child_server()
    x = np.ones((2, 8), np.float32)
    with AcceleratorClient(address, "secret", connect_timeout=2, timeout=5) as client:
        client.load("tiny", tiny.symbol_json, tiny.params, {"data": (2, 8)})
        np.testing.assert_allclose(client.forward("tiny", {"data": x})[0], tiny.reference(x), rtol=1e-5)
        proc.kill()
        proc.wait()
        started = time.monotonic()
        with pytest.raises(AcceleratorUnavailable) as info:
            client.forward("tiny", {"data": x})
        assert info.value.code == "ACC101" and time.monotonic() - started < 5
        child_server(port=address[1])
        # no action needed: the next call reconnects and loads the model again
        np.testing.assert_allclose(client.forward("tiny", {"data": x})[0], tiny.reference(x), rtol=1e-5)


def test_frozen_server_times_out_and_works_again_when_it_resumes(tmp_path, tiny, child_server):
    proc, address = child_server()
    x = np.ones((1, 8), np.float32)
    with AcceleratorClient(address, "secret", connect_timeout=1, timeout=1.5) as client:
        client.load("tiny", tiny.symbol_json, tiny.params, {"data": (1, 8)})
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(AcceleratorTimeout) as info:
                client.forward("tiny", {"data": x})
            assert info.value.code == "ACC102" and time.monotonic() - started < 3
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        np.testing.assert_allclose(client.forward("tiny", {"data": x})[0], tiny.reference(x), rtol=1e-5)


def test_nothing_listening_is_a_fast_coded_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with AcceleratorClient(("127.0.0.1", port), "x", connect_timeout=1) as client:
        with pytest.raises(AcceleratorUnavailable):
            client.health()
    assert time.monotonic() - started < 3
