"""The accelerator server: many connections, models held within one size's memory.

One thread per connection reads frames; all engine work (prepare, bind, forward) and the
memory books run under one device lock, as a real accelerator runs one request at a time,
while the network I/O of other connections proceeds in parallel.

Memory: every loaded model counts its params once, and every per-shape executor counts MXNet's
own planned bytes (see engines.py). Elastic Inference kept one model copy per input shape until
the session ended and then failed with an internal error; here the per-shape executors are an
LRU over the whole budget: a new shape evicts the least recently used executors until it fits,
and a model that cannot fit at all is refused at load, naming the smallest size that would fit.

Sessions: a HELLO carries the client's host and pid and a session id. All connections of one
session share its models; the models are freed when its last connection closes. A second
session from the same client process while the first is attached is refused with the guide's
"Maximum one EIA device can be attached to an instance".
"""
from __future__ import annotations

import hmac
import ipaddress
import socket
import sys
import threading
import traceback
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from pipeline.accelerator import protocol as proto
from pipeline.accelerator.engines import BoundExecutor, PreparedModel, make_engine
from pipeline.accelerator.errors import (
    MAX_ONE_DEVICE, AcceleratorError, AcceleratorMemoryFull, AlreadyAttached, AuthenticationFailed, BadRequest,
    ModelTooLarge, NotAuthenticated, UnknownModel)
from pipeline.accelerator.protocol import MsgType
from pipeline.core.errors import UsageError
from pipeline.targets.sizes import ACCELERATOR_SIZES, smallest_fit

SERVER_VERSION = "mxdeploy-accelerator/1"
_MAX_SIZE = max(ACCELERATOR_SIZES.values())


@dataclass
class _Model:
    key: str
    prepared: PreparedModel
    signatures: set = field(default_factory=set)


@dataclass
class _Session:
    sid: tuple[str, str]
    connections: int = 0
    models: dict[str, _Model] = field(default_factory=dict)


@dataclass
class _Conn:
    sock: socket.socket
    peer: str
    session: _Session | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fmt(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


class AcceleratorServer:
    """`AcceleratorServer(size, host, port, engine, token)`; `start()` serves in the background."""

    def __init__(self, size: str, host: str = "127.0.0.1", port: int = 0, engine: str = "mxnet",
                 token: str = "", *, memory_bytes: int | None = None, max_frame_bytes: int | None = None,
                 allow_remote: bool = False, body_timeout: float = 60.0, hello_timeout: float = 10.0,
                 max_connections: int = 256):
        if size not in ACCELERATOR_SIZES:
            raise UsageError(f"unknown accelerator size '{size}'", where="--size",
                             hint=f"sizes: {', '.join(ACCELERATOR_SIZES)}")
        if not allow_remote and not is_loopback(host):
            raise UsageError(f"refusing to listen on non-loopback host '{host}'", where="--host",
                             hint="the protocol is not encrypted; pass --allow-remote (with --token-file) "
                                  "only on a trusted network")
        self.size = size
        self.capacity = int(memory_bytes) if memory_bytes is not None else ACCELERATOR_SIZES[size]
        self.engine_name = engine
        self._engine = make_engine(engine)
        self._token = token.encode("utf-8")
        self.max_frame_bytes = int(max_frame_bytes) if max_frame_bytes else _MAX_SIZE + (256 << 20)
        self.body_timeout = body_timeout
        self.hello_timeout = hello_timeout
        self.max_connections = max_connections   # one thread each: a bound, not a pool
        self.instance_id = uuid.uuid4().hex
        self.accelerator_id = f"eia-{self.instance_id[:32]}"
        self._listener = socket.create_server((host, port), reuse_port=False, backlog=128)
        self.address = self._listener.getsockname()[:2]
        self._device = threading.RLock()   # engine work and memory books
        self._state = threading.Lock()     # sessions and connections
        self._sessions: dict[tuple[str, str], _Session] = {}
        self._attached: dict[str, tuple[str, str]] = {}   # client process -> session id
        self._lru: OrderedDict[tuple, tuple[_Model, BoundExecutor]] = OrderedDict()
        self._conns: set[socket.socket] = set()
        self.used_bytes = 0
        self.evictions = 0
        self.requests = 0
        self._started = time.monotonic()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._handlers = {MsgType.HELLO: self._hello, MsgType.LOAD: self._load, MsgType.FORWARD: self._forward,
                          MsgType.UNLOAD: self._unload, MsgType.INFO: self._info, MsgType.HEALTH: self._health}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "AcceleratorServer":
        self._thread = threading.Thread(target=self.serve_forever, name="accelerator-accept", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._state:
                full = len(self._conns) >= self.max_connections
                if not full:
                    self._conns.add(sock)
            if full:
                sock.close()
                continue
            threading.Thread(target=self._serve_connection, args=(_Conn(sock, f"{peer[0]}:{peer[1]}"),),
                             name=f"accelerator-{peer[1]}", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._state:
            conns = list(self._conns)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- connections -------------------------------------------------------------------------
    def _serve_connection(self, conn: _Conn) -> None:
        sock = conn.sock
        try:
            while not self._stopping.is_set():
                if not self._serve_one(conn):
                    return
        finally:
            self._detach(conn)
            with self._state:
                self._conns.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _serve_one(self, conn: _Conn) -> bool:
        """Serve one frame; False closes the connection (peer gone or the stream out of step)."""
        sock = conn.sock
        authed = conn.session is not None
        request_id, in_sync = 0, False
        try:
            sock.settimeout(None if authed else self.hello_timeout)
            header = proto.recv_header(sock, self.max_frame_bytes if authed else proto.PRE_AUTH_MAX_FRAME)
            request_id = header.request_id
            deadline = time.monotonic() + self.body_timeout
            meta = proto.recv_meta(sock, header, deadline)
            if not authed and header.type != MsgType.HELLO:
                raise NotAuthenticated("the first request must be HELLO with the token", where=conn.peer,
                                       hint="connect with AcceleratorClient")
            if header.type == MsgType.LOAD:
                try:
                    self._precheck_load(meta)
                except ModelTooLarge as exc:
                    self._send_error(sock, request_id, exc)
                    proto.drain(sock, header.payload_len, deadline)
                    return True
            tensors = proto.recv_tensors(sock, header, meta, deadline)
            in_sync = True
            handler = self._handlers.get(header.type)
            if handler is None:
                raise BadRequest(f"message type {header.type.name} is not a request", where=conn.peer)
            self.requests += 1
            reply_meta, reply_tensors = handler(conn, meta, tensors)
            proto.send_frame(sock, MsgType.REPLY, request_id, reply_meta, reply_tensors,
                             deadline=time.monotonic() + self.body_timeout)
            return True
        except proto.ConnectionClosed:
            return False
        except (socket.timeout, OSError):
            return False
        except AcceleratorError as exc:
            self._send_error(sock, request_id, exc)
            return in_sync and not isinstance(exc, (AuthenticationFailed, NotAuthenticated, AlreadyAttached))
        except Exception as exc:  # a bug in the server: report it, keep serving others
            traceback.print_exc(file=sys.stderr)
            self._send_error(sock, request_id, AcceleratorError(
                f"internal error in the accelerator server: {type(exc).__name__}: {exc}", where=self.accelerator_id,
                hint="this is a bug in mxdeploy; please report it with the server's log"))
            return in_sync

    def _send_error(self, sock, request_id: int, exc: AcceleratorError) -> None:
        try:
            proto.send_frame(sock, MsgType.ERROR, request_id, proto.error_meta(exc),
                             deadline=time.monotonic() + 5)
        except (OSError, socket.timeout):
            pass

    # -- sessions ----------------------------------------------------------------------------
    def _hello(self, conn: _Conn, meta: dict, tensors) -> tuple[dict, list]:
        token = meta.get("token", "")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8"), self._token):
            raise AuthenticationFailed("wrong accelerator token", where=conn.peer,
                                       hint="pass the server's --token-file content to the client")
        client, session = meta.get("client"), meta.get("session")
        if not (isinstance(client, dict) and isinstance(session, str) and 0 < len(session) <= 64):
            raise BadRequest("HELLO needs 'client' {host, pid} and a 'session' id", where=conn.peer)
        process = f"{client.get('host')}:{client.get('pid')}"
        sid = (process, session)
        with self._state:
            current = self._attached.get(process)
            if current is not None and current != sid and self._sessions[current].connections > 0:
                raise AlreadyAttached(MAX_ONE_DEVICE, where=f"client process {process}",
                                      hint="use one accelerator client per process")
            sess = self._sessions.setdefault(sid, _Session(sid))
            sess.connections += 1
            self._attached[process] = sid
            conn.session = sess
        return ({"server": SERVER_VERSION, "size": self.size, "memory_bytes": self.capacity,
                 "engine": self.engine_name, "accelerator_id": self.accelerator_id,
                 "instance": self.instance_id, "max_frame_bytes": self.max_frame_bytes}, [])

    def _detach(self, conn: _Conn) -> None:
        sess = conn.session
        if sess is None:
            return
        with self._state:
            sess.connections -= 1
            ending = sess.connections == 0
            if ending:
                self._sessions.pop(sess.sid, None)
                if self._attached.get(sess.sid[0]) == sess.sid:
                    del self._attached[sess.sid[0]]
        if ending:
            with self._device:
                for key in list(sess.models):
                    self._drop_model(sess, key)

    # -- memory ------------------------------------------------------------------------------
    def _too_large(self, required: int, what: str) -> ModelTooLarge:
        fit = smallest_fit(required)
        hint = f"use {fit}" if fit else "no accelerator size holds it: shrink the model or the batch"
        return ModelTooLarge(f"{what} needs {_fmt(required)}; {self.size} holds {_fmt(self.capacity)}"
                             + (f"; the smallest size that fits is {fit}" if fit else ""),
                             where=self.accelerator_id, hint=hint)

    def _precheck_load(self, meta: dict) -> None:
        """Refuse a model whose params alone exceed the size before receiving them."""
        params = sum(int(np.prod(d["shape"], dtype=np.int64)) * np.dtype(d["dtype"]).itemsize
                     for d in meta["tensors"])  # validated by recv_meta
        if params > self.capacity:
            raise self._too_large(params, f"model '{meta.get('key')}' (params alone)")

    def _make_room(self, nbytes: int, what: str) -> None:
        while self.used_bytes + nbytes > self.capacity and self._lru:
            (_, _, sig), (model, bound) = self._lru.popitem(last=False)
            model.signatures.discard(sig)
            self.used_bytes -= bound.nbytes
            self.evictions += 1
        if self.used_bytes + nbytes > self.capacity:
            raise AcceleratorMemoryFull(
                f"{what} needs {_fmt(nbytes)} but loaded models' params use {_fmt(self.used_bytes)} "
                f"of {_fmt(self.capacity)}", where=self.accelerator_id,
                hint="unload models you no longer use, or use a larger size")

    def _bind(self, sess: _Session, model: _Model, shapes: dict) -> BoundExecutor:
        sig = tuple((n, tuple(shapes[n])) for n in model.prepared.input_names)
        lru_key = (sess.sid, model.key, sig)
        found = self._lru.get(lru_key)
        if found is not None:
            self._lru.move_to_end(lru_key)
            return found[1]
        bound = self._engine.bind(model.prepared, shapes)
        if model.prepared.params_bytes + bound.nbytes > self.capacity:
            raise self._too_large(model.prepared.params_bytes + bound.nbytes,
                                  f"model '{model.key}' at inputs {dict(sig)}")
        self._make_room(bound.nbytes, f"model '{model.key}' at inputs {dict(sig)}")
        self.used_bytes += bound.nbytes
        self._lru[lru_key] = (model, bound)
        model.signatures.add(sig)
        return bound

    def _drop_model(self, sess: _Session, key: str) -> int:
        model = sess.models.pop(key)
        freed = model.prepared.params_bytes
        for lru_key in [k for k in self._lru if k[0] == sess.sid and k[1] == key]:
            freed += self._lru.pop(lru_key)[1].nbytes
        self.used_bytes -= freed
        return freed

    # -- requests ----------------------------------------------------------------------------
    @staticmethod
    def _key(meta: dict) -> str:
        key = meta.get("key")
        if not isinstance(key, str) or not key or len(key) > 256:
            raise BadRequest("request needs a model 'key' (a non-empty string)", where="request")
        return key

    def _load(self, conn: _Conn, meta: dict, tensors) -> tuple[dict, list]:
        key = self._key(meta)
        symbol_json = meta.get("symbol")
        specs = meta.get("inputs")
        if not isinstance(symbol_json, str) or not isinstance(specs, list):
            raise BadRequest("LOAD needs 'symbol' (JSON text) and 'inputs' [{name, shape, dtype}]", where=key)
        inputs = {}
        for spec in specs:
            if not (isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("shape"), list)
                    and all(type(d) is int and d >= 0 for d in spec["shape"])):
                raise BadRequest(f"malformed input spec {spec!r}", where=key)
            dtype = proto.check_dtype(spec.get("dtype", "float32")).name
            inputs[spec["name"]] = (tuple(spec["shape"]), dtype)
        sess = conn.session
        with self._device:
            if key in sess.models:
                self._drop_model(sess, key)
            prepared = self._engine.prepare(symbol_json, dict(tensors), inputs)
            if prepared.params_bytes > self.capacity:
                raise self._too_large(prepared.params_bytes, f"model '{key}' (params alone)")
            model = _Model(key, prepared)
            self._make_room(prepared.params_bytes, f"model '{key}'")
            self.used_bytes += prepared.params_bytes
            try:
                bound = self._bind(sess, model, {n: s for n, (s, _) in inputs.items()})
            except AcceleratorError:
                self.used_bytes -= prepared.params_bytes
                raise
            sess.models[key] = model
        return ({"key": key, "params_bytes": prepared.params_bytes, "executor_bytes": bound.nbytes,
                 "outputs": prepared.output_names, "planner": bound.info.get("planner")}, [])

    def _forward(self, conn: _Conn, meta: dict, tensors) -> tuple[dict, list]:
        key = self._key(meta)
        sess = conn.session
        arrays = dict(tensors)
        with self._device:
            model = sess.models.get(key)
            if model is None:
                raise UnknownModel(f"no model '{key}' is loaded in this session", where=self.accelerator_id,
                                   hint="load it first (models are freed when the session ends)")
            prepared = model.prepared
            if set(arrays) != set(prepared.input_names):
                raise BadRequest(f"inputs {sorted(arrays)} do not match the model's {prepared.input_names}",
                                 where=key, hint="send exactly the inputs declared at load")
            for name, value in arrays.items():
                if value.dtype.name != prepared.input_dtypes[name]:
                    raise BadRequest(f"input '{name}' is {value.dtype.name}, loaded as {prepared.input_dtypes[name]}",
                                     where=key, hint="cast the input or reload with that dtype")
            bound = self._bind(sess, model, {n: v.shape for n, v in arrays.items()})
            outputs = bound.run(arrays)
        return {"key": key}, list(zip(prepared.output_names, outputs))

    def _unload(self, conn: _Conn, meta: dict, tensors) -> tuple[dict, list]:
        key = self._key(meta)
        with self._device:
            if key not in conn.session.models:
                raise UnknownModel(f"no model '{key}' is loaded in this session", where=self.accelerator_id)
            return {"key": key, "freed_bytes": self._drop_model(conn.session, key)}, []

    def _info(self, conn: _Conn, meta: dict, tensors) -> tuple[dict, list]:
        with self._device:
            models = []
            for key, model in conn.session.models.items():
                shapes = [{"inputs": {n: list(s) for n, s in k[2]}, "bytes": b.nbytes}
                          for k, (m, b) in self._lru.items() if m is model]
                models.append({"key": key, "params_bytes": model.prepared.params_bytes, "shapes": shapes})
            with self._state:
                sessions = len(self._sessions)
            return ({"size": self.size, "memory_bytes": self.capacity, "used_bytes": self.used_bytes,
                     "free_bytes": self.capacity - self.used_bytes, "evictions": self.evictions,
                     "sessions": sessions, "engine": self.engine_name, "accelerator_id": self.accelerator_id,
                     "models": models}, [])

    def _health(self, conn: _Conn, meta: dict, tensors) -> tuple[dict, list]:
        return {"status": "ok", "uptime_s": round(time.monotonic() - self._started, 3),
                "requests": self.requests}, []
