"""The accelerator client, and `RemoteSubgraphEngine`, the subgraph engine served remotely.

Never hang: every connect has `connect_timeout` and every request a deadline (`timeout`);
a dead, killed or stopped server surfaces as a coded error (ACC101 unreachable, ACC102
timeout, ACC103 connection lost) within that time. A failed connection is dropped and the next
call connects afresh, so a restarted server is picked up without any action; the client keeps
what it loaded and loads it again when the server no longer knows a model (ACC109), so work
resumes after a restart with the same calls.

Thread safety: a client keeps a small pool of connections of one session; each request
borrows one, so threads of one process share one accelerator attach (the guide's rule is one
accelerator per process, see `shared_client`).
"""
from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.accelerator import protocol as proto
from pipeline.accelerator.errors import (
    MAX_ONE_DEVICE, AcceleratorError, AcceleratorTimeout, AcceleratorUnavailable, AlreadyAttached, ConnectionLost,
    ModelTooLarge, ProtocolError, UnknownModel, error_from_code)
from pipeline.accelerator.protocol import MsgType
from pipeline.targets.sizes import smallest_fit

REPLY_MAX_FRAME = 16 << 30
# Errors after which the server closes the connection (the stream is out of step or refused).
_FATAL_CODES = {"ACC104", "ACC105", "ACC106", "ACC107", "ACC108", "ACC115"}


def _host_id() -> str:
    try:
        with open("/etc/machine-id", encoding="ascii") as fh:
            return fh.read().strip() or socket.gethostname()
    except OSError:
        return socket.gethostname()


def parse_address(address) -> tuple[str, int]:
    if isinstance(address, tuple):
        return address[0], int(address[1])
    host, sep, port = str(address).rpartition(":")
    if not sep or not port.isdigit():
        raise AcceleratorUnavailable(f"accelerator address '{address}' is not HOST:PORT", where="address",
                                     hint="e.g. MXDEPLOY_ACCELERATOR=127.0.0.1:7001")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass
class _LoadRecord:
    symbol_json: str
    params: dict
    inputs: list[dict]


class AcceleratorClient:
    """Requests to one accelerator server: load / forward / unload / info / health."""

    def __init__(self, address, token: str = "", *, connect_timeout: float = 5.0, timeout: float = 120.0):
        self.address = parse_address(address)
        self.token = token
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.session = uuid.uuid4().hex
        self.server_info: dict = {}
        self._pool: list[socket.socket] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._records: dict[str, _LoadRecord] = {}
        self._closed = False

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        where = f"{self.address[0]}:{self.address[1]}"
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except socket.timeout:
            raise AcceleratorUnavailable(f"no answer from the accelerator within {self.connect_timeout:g} s",
                                         where=where, hint="is the server running?") from None
        except OSError as exc:
            raise AcceleratorUnavailable(f"cannot connect to the accelerator ({exc.strerror or exc})",
                                         where=where, hint="start it with 'pipeline accelerator serve' "
                                                           "or unset MXDEPLOY_ACCELERATOR") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            meta = {"token": self.token, "session": self.session, "client": {"host": _host_id(), "pid": os.getpid()}}
            reply = self._exchange(sock, MsgType.HELLO, meta, [], time.monotonic() + self.connect_timeout)
        except BaseException:
            sock.close()
            raise
        self.server_info = reply.meta
        return sock

    def _borrow(self) -> tuple[socket.socket, bool]:
        """A pooled connection (reused=True) or a new one."""
        if self._closed:
            raise AcceleratorError("the accelerator client is closed", where="client", hint="create a new client")
        with self._lock:
            if self._pool:
                return self._pool.pop(), True
        return self._connect(), False

    def _exchange(self, sock, msg_type, meta, tensors, deadline) -> proto.Frame:
        where = f"{self.address[0]}:{self.address[1]}"
        request_id = next(self._ids)
        try:
            proto.send_frame(sock, msg_type, request_id, meta, tensors, deadline)
            reply = proto.recv_frame(sock, REPLY_MAX_FRAME, deadline)
        except socket.timeout:
            raise AcceleratorTimeout(f"no reply to {msg_type.name} within the request timeout",
                                     where=where, hint="the server is stuck or overloaded; raise timeout=") from None
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(f"connection to the accelerator lost during {msg_type.name} ({exc})",
                                 where=where, hint="the server stopped; the next call reconnects") from None
        if reply.request_id != request_id and reply.type != MsgType.ERROR:
            raise ProtocolError(f"reply for request {reply.request_id}, expected {request_id}", where=where)
        if reply.type == MsgType.ERROR:
            m = reply.meta
            exc = error_from_code(str(m.get("code", "ACC100")), str(m.get("message", "")),
                                  str(m.get("where", "")), str(m.get("hint", "")))
            exc.fatal = exc.code in _FATAL_CODES
            raise exc
        reply.meta.pop("tensors", None)
        return reply

    def request(self, msg_type: MsgType, meta: dict, tensors=(), timeout: float | None = None) -> proto.Frame:
        """One request on a pooled connection; a connection that failed is dropped, not reused.

        A pooled connection found dead (the server restarted since it was opened) is retried
        once on a fresh connection, so the first call after a restart works.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        tensors = list(tensors)
        while True:
            sock, reused = self._borrow()
            healthy = False
            try:
                reply = self._exchange(sock, msg_type, meta, tensors, deadline)
                healthy = True
                return reply
            except ConnectionLost:
                if reused:
                    continue
                raise
            except AcceleratorError as exc:
                healthy = not getattr(exc, "fatal", True) and not isinstance(exc, AcceleratorTimeout)
                raise
            finally:
                if healthy and not self._closed:
                    with self._lock:
                        self._pool.append(sock)
                else:
                    sock.close()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            pool, self._pool = self._pool, []
        for sock in pool:
            _close_gracefully(sock)
        self._records.clear()
        _forget_shared(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ----------------------------------------------------------------------------
    def hello(self) -> dict:
        """Connect (if needed) and return the server's HELLO reply: size, memory, engine, id."""
        sock, _ = self._borrow()
        with self._lock:
            self._pool.append(sock)
        return dict(self.server_info)

    def load(self, key: str, symbol_json: str, params: Mapping, input_shapes: Mapping,
             input_dtypes: Mapping | None = None) -> dict:
        params = {name: _to_numpy(value) for name, value in params.items()}
        dtypes = dict(input_dtypes or {})
        inputs = [{"name": n, "shape": [int(d) for d in s], "dtype": np.dtype(dtypes.get(n, "float32")).name}
                  for n, s in input_shapes.items()]
        capacity = self.hello().get("memory_bytes")
        params_bytes = sum(a.nbytes for a in params.values())
        if capacity is not None and params_bytes > capacity:
            fit = smallest_fit(params_bytes)
            raise ModelTooLarge(f"model '{key}' (params alone) needs {params_bytes / (1 << 20):.1f} MiB; "
                                f"{self.server_info.get('size')} holds {capacity / (1 << 20):.1f} MiB"
                                + (f"; the smallest size that fits is {fit}" if fit else ""),
                                where=str(self.server_info.get("accelerator_id", "")),
                                hint=f"use {fit}" if fit else "no accelerator size holds it")
        record = _LoadRecord(symbol_json, params, inputs)
        reply = self._send_load(key, record)
        self._records[key] = record
        return reply

    def _send_load(self, key: str, record: _LoadRecord) -> dict:
        meta = {"key": key, "symbol": record.symbol_json, "inputs": record.inputs}
        return self.request(MsgType.LOAD, meta, list(record.params.items())).meta

    def forward(self, key: str, arrays: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        tensors = [(name, _to_numpy(value)) for name, value in arrays.items()]
        try:
            reply = self.request(MsgType.FORWARD, {"key": key}, tensors)
        except UnknownModel:
            # The server restarted (or our session ended): load again what we loaded, retry once.
            record = self._records.get(key)
            if record is None:
                raise
            self._send_load(key, record)
            reply = self.request(MsgType.FORWARD, {"key": key}, tensors)
        return [array for _, array in reply.tensors]

    def unload(self, key: str) -> dict:
        self._records.pop(key, None)
        return self.request(MsgType.UNLOAD, {"key": key}).meta

    def info(self) -> dict:
        return self.request(MsgType.INFO, {}).meta

    def health(self) -> dict:
        return self.request(MsgType.HEALTH, {}).meta


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "asnumpy"):
        value = value.asnumpy()
    return np.asarray(value, order="C")


# -- one accelerator per process -----------------------------------------------------------
_shared_lock = threading.Lock()
_shared: dict = {"pid": None, "client": None, "users": 0}


def shared_client(address, token: str = "", **kwargs) -> AcceleratorClient:
    """The process's one accelerator client; attaching a second, different accelerator is refused.

    Each call counts a user; `release_shared` drops one, and the last one closes the client
    (detaching the process, which frees its models on the server).
    """
    addr = parse_address(address)
    with _shared_lock:
        client = _shared["client"] if _shared["pid"] == os.getpid() else None
        if client is not None and not client._closed:
            if client.address != addr:
                raise AlreadyAttached(MAX_ONE_DEVICE, where=f"process {os.getpid()}",
                                      hint=f"this process is attached to {client.address[0]}:{client.address[1]}; "
                                           "close its engines first")
            _shared["users"] += 1
            return client
        client = AcceleratorClient(addr, token, **kwargs)
        _shared.update(pid=os.getpid(), client=client, users=1)
        return client


def release_shared(client: AcceleratorClient) -> None:
    with _shared_lock:
        if _shared["client"] is not client:
            return
        _shared["users"] -= 1
        last = _shared["users"] <= 0
    if last:
        client.close()


def _close_gracefully(sock: socket.socket, timeout: float = 2.0) -> None:
    """Half-close, then wait for the server's EOF: it detaches the session before closing its
    end, so a new attach from this process right after `close()` is not refused as a second one."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(timeout)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def _forget_shared(client: AcceleratorClient) -> None:
    with _shared_lock:
        if _shared["client"] is client:
            _shared.update(pid=None, client=None, users=0)


def remote_engine(size: str | None = None, settings: dict | None = None) -> "RemoteSubgraphEngine":
    """The engine for an eia target: the server named by MXDEPLOY_ACCELERATOR or the pipeline's
    `accelerator: {address}` setting, else this process's embedded server of `size`."""
    from pipeline.accelerator.embedded import resolve_accelerator

    address, token = resolve_accelerator(settings, size)
    return RemoteSubgraphEngine(address=address, token=token)


class RemoteSubgraphEngine:
    """The subgraph engine interface, served by an accelerator.

    - `load(key, symbol_json, params, input_shapes)`: params maps names (plain, or MXNet's
      `arg:`/`aux:` prefixed) to numpy arrays or NDArrays; input_shapes maps each input name to
      its shape, in the order `forward` takes a sequence. Optional `input_dtypes` (default float32).
    - `forward(key, arrays) -> arrays`: arrays is a mapping name -> array, or a sequence in the
      input order given at load; returns numpy arrays in the graph's output order.
    - `unload(key)`, `close()`.

    Without a client it uses the process's shared client (the embedded accelerator unless
    MXDEPLOY_ACCELERATOR names one); `remote_engine(size, settings)` picks the address for a target.
    """

    def __init__(self, client: AcceleratorClient | None = None, *, address=None, token: str = ""):
        self._shared = client is None
        if client is None:
            if address is None:
                from pipeline.accelerator.embedded import resolve_accelerator

                address, token = resolve_accelerator()
            client = shared_client(address, token)
        self.client = client
        self._inputs: dict[str, list[str]] = {}

    def load(self, key: str, symbol_json: str, params: Mapping, input_shapes: Mapping,
             input_dtypes: Mapping | None = None) -> dict:
        reply = self.client.load(key, symbol_json, params, input_shapes, input_dtypes)
        self._inputs[key] = list(input_shapes)
        return reply

    def forward(self, key: str, arrays) -> list[np.ndarray]:
        if not isinstance(arrays, Mapping):
            if not isinstance(arrays, Sequence) or key not in self._inputs:
                raise AcceleratorError(f"forward('{key}', ...) needs a mapping, or a sequence after load",
                                       where=key, hint="pass {input_name: array}")
            arrays = dict(zip(self._inputs[key], arrays))
        return self.client.forward(key, arrays)

    def unload(self, key: str) -> None:
        self._inputs.pop(key, None)
        self.client.unload(key)

    def close(self) -> None:
        """Unload this engine's models; an engine on the shared client releases it (the last detaches)."""
        for key in list(self._inputs):
            try:
                self.unload(key)
            except AcceleratorError:
                pass
        self._inputs.clear()
        if self._shared:
            self._shared = False
            release_shared(self.client)
