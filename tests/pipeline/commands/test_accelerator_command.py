"""`pipeline accelerator serve`: arguments, loopback-only default, token handling."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import accelerator as command
from pipeline.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]


def parse(argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_serve_arguments_and_defaults():
    args = parse(["serve", "--size", "eia2.large"])
    assert (args.size, args.host, args.port, args.engine, args.token_file, args.allow_remote) == \
        ("eia2.large", "127.0.0.1", 0, "mxnet", None, False)
    with pytest.raises(SystemExit):
        parse(["serve", "--size", "eia9.small"])


def test_non_loopback_host_is_refused_without_allow_remote():
    with pytest.raises(UsageError, match="non-loopback"):
        command.main(parse(["serve", "--size", "eia1.medium", "--host", "0.0.0.0"]))


def test_allow_remote_needs_a_token_file():
    with pytest.raises(UsageError, match="--allow-remote needs --token-file"):
        command.main(parse(["serve", "--size", "eia1.medium", "--host", "0.0.0.0", "--allow-remote"]))


def test_empty_token_file_is_refused(tmp_path):
    (tmp_path / "t").write_text("\n")
    with pytest.raises(UsageError, match="empty"):
        command.read_token(str(tmp_path / "t"))
    assert command.read_token(None) == ""


def test_serve_prints_its_address_and_stops_on_sigterm(tmp_path):
    (tmp_path / "t").write_text("tok\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli.accelerator", "serve", "--size", "eia1.medium",
                             "--token-file", str(tmp_path / "t")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert "mxdeploy accelerator eia1.medium (mxnet) listening on 127.0.0.1:" in line
        from pipeline.accelerator.client import AcceleratorClient

        host, port = line.split()[-1].rsplit(":", 1)
        with AcceleratorClient((host, int(port)), "tok") as client:
            assert client.health()["status"] == "ok"
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_unknown_engine_exits_with_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "pipeline.cli.accelerator", "serve", "--size", "eia1.medium",
                           "--engine", "tensorrt"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert done.returncode == 2 and "tensorrt" in done.stderr and "Traceback" not in done.stderr


def test_through_the_pipeline_cli_once_listed_in_commands(monkeypatch, capsys):
    from pipeline import cli

    monkeypatch.setitem(cli.COMMANDS, "accelerator", "pipeline.cli.accelerator")
    assert cli.main(["accelerator", "serve", "--size", "eia1.medium", "--host", "0.0.0.0"]) == 2
    assert "CLI001 refusing to listen on non-loopback host '0.0.0.0'" in capsys.readouterr().err
    assert cli.main(["accelerator"]) == 2
    assert "no action given" in capsys.readouterr().err
