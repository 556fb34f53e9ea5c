"""The embedded accelerator: a private local server started on demand, stopped at exit.

Nobody starts anything by hand: the first user in a process (an `mx.eia()` bind, an eia
target) starts `pipeline accelerator serve` as a child process on 127.0.0.1 with an ephemeral
port and a random token handed over its stdin (never on the command line or on disk). The
child keeps reading that stdin and exits when it closes, so it dies with its parent even after
a `kill -9`; `atexit` stops it on a normal exit.

`MXDEPLOY_ACCELERATOR=host:port` (token from `MXDEPLOY_ACCELERATOR_TOKEN_FILE`), or a pipeline's
`accelerator: {address: ...}` (reaching stages as `ctx.settings["accelerator"]`), names a
running server instead. `MXDEPLOY_ACCELERATOR_SIZE` sets the embedded size (default eia1.large).
"""
from __future__ import annotations

import atexit
import os
import re
import secrets
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pipeline.accelerator.errors import AcceleratorUnavailable

ENV_ADDRESS = "MXDEPLOY_ACCELERATOR"
ENV_TOKEN_FILE = "MXDEPLOY_ACCELERATOR_TOKEN_FILE"
ENV_SIZE = "MXDEPLOY_ACCELERATOR_SIZE"
DEFAULT_SIZE = "eia1.large"
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class EmbeddedAccelerator:
    """One child-process server; `address` and `token` once started."""

    def __init__(self, size: str = DEFAULT_SIZE, engine: str = "mxnet", startup_timeout: float = 60.0):
        self.size = size
        self.engine = engine
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(16)
        self.address: tuple[str, int] | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path: str | None = None

    def start(self) -> "EmbeddedAccelerator":
        log = tempfile.NamedTemporaryFile(prefix="mxdeploy-accelerator-", suffix=".log", delete=False)
        self.log_path = log.name
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH")) if p)
        env.pop(ENV_ADDRESS, None)
        cmd = [sys.executable, "-m", "pipeline.cli.accelerator", "serve", "--size", self.size,
               "--host", "127.0.0.1", "--port", "0", "--engine", self.engine, "--token-file", "-",
               "--exit-with-parent"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        log.close()
        self.proc.stdin.write((self.token + "\n").encode())
        self.proc.stdin.flush()
        line = self._first_line()
        match = _LISTENING.search(line)
        if not match:
            self.stop()
            raise AcceleratorUnavailable(f"the embedded accelerator did not start: {self._log_tail() or line!r}",
                                         where=self.log_path or "embedded accelerator",
                                         hint=f"run 'pipeline accelerator serve --size {self.size}' to see why")
        self.address = (match.group(1), int(match.group(2)))
        return self

    def _first_line(self) -> str:
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        while b"\n" not in buf and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.proc.poll() is not None:
                break
        return buf.decode("utf-8", "replace")

    def _log_tail(self) -> str:
        try:
            lines = Path(self.log_path).read_text("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        if self.log_path:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass


_lock = threading.Lock()
_embedded: dict[tuple[int, str, str], EmbeddedAccelerator] = {}


def embedded(size: str | None = None, engine: str = "mxnet") -> EmbeddedAccelerator:
    """This process's embedded accelerator of `size` (started on first use)."""
    size = size or os.environ.get(ENV_SIZE) or DEFAULT_SIZE
    key = (os.getpid(), size, engine)
    with _lock:
        acc = _embedded.get(key)
        if acc is None or acc.proc is None or acc.proc.poll() is not None:
            acc = _embedded[key] = EmbeddedAccelerator(size, engine).start()
        return acc


def stop_embedded() -> None:
    with _lock:
        mine = [k for k in _embedded if k[0] == os.getpid()]
        accs = [_embedded.pop(k) for k in mine]
    for acc in accs:
        acc.stop()


atexit.register(stop_embedded)


def _token_from_env() -> str:
    path = os.environ.get(ENV_TOKEN_FILE)
    if not path:
        return ""
    try:
        return Path(path).read_text("utf-8").strip()
    except OSError as exc:
        raise AcceleratorUnavailable(f"cannot read the accelerator token ({exc.strerror})", where=path,
                                     hint=f"point {ENV_TOKEN_FILE} at the server's --token-file") from None


def resolve_accelerator(settings: dict | None = None, size: str | None = None) -> tuple[str, str]:
    """(address "host:port", token): the environment, then the pipeline's setting, then embedded."""
    address = os.environ.get(ENV_ADDRESS) or ((settings or {}).get("accelerator") or {}).get("address")
    if address:
        return str(address), _token_from_env()
    acc = embedded(size)
    return f"{acc.address[0]}:{acc.address[1]}", acc.token
