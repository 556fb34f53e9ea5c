"""Framing for the accelerator protocol: a fixed header, JSON metadata, raw tensor buffers.

A frame on the wire:

    header   28 bytes, network order: magic b"MXAC", version u8, type u8, flags u16 (0),
             request id u64, metadata length u32, payload length u64
    metadata UTF-8 JSON object: plain data only (names, dtypes, shapes, keys, symbol JSON text);
             its "tensors" list describes the payload, one {"name", "dtype", "shape"} each
    payload  the tensors' bytes, C order, each starting at a multiple of 64 bytes (zero padding)

Why this shape: nothing in a frame is ever executed (no pickle, no eval: metadata is parsed by
`json.loads`, tensors by `np.frombuffer` over a dtype whitelist), the receiver knows every
length before it allocates (so a hostile header cannot make it allocate more than the maximum
frame size), and tensors are sent straight from numpy's memory with `sendmsg` scatter I/O and
received with `recv_into` into one preallocated buffer, so a forward copies no tensor in Python.
The 64-byte alignment keeps every received tensor aligned for numpy and MXNet.
"""
from __future__ import annotations

import enum
import json
import socket
import struct
import time
from dataclasses import dataclass, field

import numpy as np

from pipeline.accelerator.errors import FrameTooLarge, ProtocolError, UnsupportedDtype

MAGIC = b"MXAC"
VERSION = 1
HEADER = struct.Struct("!4sBBHQIQ")
HEADER_SIZE = HEADER.size
ALIGN = 64
MAX_META_BYTES = 64 << 20        # a ResNet-152 symbol JSON is ~0.3 MiB
PRE_AUTH_MAX_FRAME = 1 << 20     # only a HELLO may arrive before authentication
IOV_BATCH = 512                  # below Linux's IOV_MAX (1024) for sendmsg
DTYPES = frozenset({"float32", "float64", "float16", "int32", "int64", "uint8", "int8", "bool"})
_ZEROS = bytes(ALIGN)


class MsgType(enum.IntEnum):
    HELLO = 1
    LOAD = 2
    FORWARD = 3
    UNLOAD = 4
    INFO = 5
    HEALTH = 6
    REPLY = 64
    ERROR = 65


class ConnectionClosed(ConnectionError):
    """The peer closed the connection; `clean` when it happened between frames."""

    def __init__(self, clean: bool):
        super().__init__("connection closed by peer" + ("" if clean else " mid-frame"))
        self.clean = clean


@dataclass(frozen=True)
class Header:
    type: MsgType
    request_id: int
    meta_len: int
    payload_len: int

    @property
    def frame_len(self) -> int:
        return HEADER_SIZE + self.meta_len + self.payload_len


@dataclass
class Frame:
    type: MsgType
    request_id: int
    meta: dict
    tensors: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self.tensors)


def _padded(nbytes: int) -> int:
    return (nbytes + ALIGN - 1) // ALIGN * ALIGN


def check_dtype(name: str) -> np.dtype:
    if name not in DTYPES:
        raise UnsupportedDtype(f"dtype '{name}' is not allowed", where="frame",
                               hint=f"use one of: {', '.join(sorted(DTYPES))}")
    return np.dtype(name)


# -- sending -------------------------------------------------------------------------------
def encode(msg_type: MsgType, request_id: int, meta: dict,
           tensors: list[tuple[str, np.ndarray]] = ()) -> tuple[list, int]:
    """The buffers of one frame (header, metadata, tensors with padding) and its length."""
    descs, chunks, payload_len = [], [], 0
    for name, array in tensors:
        array = np.asarray(array, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray does not)
        check_dtype(array.dtype.name)
        descs.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape)})
        if array.nbytes:
            chunks.append(memoryview(array.reshape(-1)).cast("B"))
        pad = _padded(array.nbytes) - array.nbytes
        if pad:
            chunks.append(_ZEROS[:pad])
        payload_len += array.nbytes + pad
    meta = dict(meta)
    meta["tensors"] = descs
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    header = HEADER.pack(MAGIC, VERSION, int(msg_type), 0, request_id, len(meta_bytes), payload_len)
    buffers = [header, meta_bytes, *chunks]
    return buffers, HEADER_SIZE + len(meta_bytes) + payload_len


def send_frame(sock: socket.socket, msg_type: MsgType, request_id: int, meta: dict,
               tensors: list[tuple[str, np.ndarray]] = (), deadline: float | None = None) -> None:
    buffers, _ = encode(msg_type, request_id, meta, tensors)
    send_buffers(sock, buffers, deadline)


def send_buffers(sock: socket.socket, buffers: list, deadline: float | None = None) -> None:
    """`sendmsg` scatter I/O over all buffers, resuming after partial sends; no joining copy."""
    views = [memoryview(b) for b in buffers if len(b)]
    while views:
        _apply_deadline(sock, deadline)
        sent = sock.sendmsg(views[:IOV_BATCH])
        while sent:
            if sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0


# -- receiving -----------------------------------------------------------------------------
def _apply_deadline(sock: socket.socket, deadline: float | None) -> None:
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        sock.settimeout(remaining)


def recv_into(sock: socket.socket, view: memoryview, deadline: float | None = None, *,
              at_boundary: bool = False) -> None:
    """Fill `view` completely from the socket."""
    got = 0
    while got < len(view):
        _apply_deadline(sock, deadline)
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ConnectionClosed(clean=at_boundary and got == 0)
        got += n


def recv_header(sock: socket.socket, max_frame: int, deadline: float | None = None) -> Header:
    buf = bytearray(HEADER_SIZE)
    recv_into(sock, memoryview(buf), deadline, at_boundary=True)
    magic, version, msg_type, _flags, request_id, meta_len, payload_len = HEADER.unpack(buf)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {bytes(magic)!r}", where="frame header",
                            hint="this port speaks the mxdeploy accelerator protocol")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version} is not supported (this side speaks {VERSION})",
                            where="frame header", hint="use a client and server of the same mxdeploy version")
    try:
        kind = MsgType(msg_type)
    except ValueError:
        raise ProtocolError(f"unknown message type {msg_type}", where="frame header") from None
    header = Header(kind, request_id, meta_len, payload_len)
    if meta_len > MAX_META_BYTES or header.frame_len > max_frame:
        raise FrameTooLarge(f"frame of {header.frame_len} bytes exceeds the maximum of {max_frame}",
                            where="frame header", hint="send smaller tensors or raise the maximum frame size")
    return header


def recv_meta(sock: socket.socket, header: Header, deadline: float | None = None) -> dict:
    buf = bytearray(header.meta_len)
    recv_into(sock, memoryview(buf), deadline)
    try:
        meta = json.loads(buf.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"metadata is not UTF-8 JSON ({exc})", where="frame metadata") from None
    if not isinstance(meta, dict):
        raise ProtocolError("metadata must be a JSON object", where="frame metadata")
    tensor_layout(meta, header.payload_len)
    return meta


def tensor_layout(meta: dict, payload_len: int) -> list[tuple[str, np.dtype, tuple[int, ...], int]]:
    """Validate the "tensors" descriptors against the payload length: (name, dtype, shape, offset)."""
    descs = meta.get("tensors", [])
    if not isinstance(descs, list):
        raise ProtocolError("'tensors' must be a list", where="frame metadata")
    layout, offset = [], 0
    for i, desc in enumerate(descs):
        if not (isinstance(desc, dict) and isinstance(desc.get("name"), str)
                and isinstance(desc.get("dtype"), str) and isinstance(desc.get("shape"), list)
                and all(type(d) is int and 0 <= d < (1 << 40) for d in desc["shape"])):
            raise ProtocolError(f"tensor descriptor {i} is malformed", where="frame metadata",
                                hint="each tensor needs a string name and dtype and a list of non-negative ints")
        dtype = check_dtype(desc["dtype"])
        shape = tuple(desc["shape"])
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        layout.append((desc["name"], dtype, shape, offset))
        offset += _padded(nbytes)
    if offset != payload_len:
        raise ProtocolError(f"tensors describe {offset} payload bytes, the header says {payload_len}",
                            where="frame metadata")
    return layout


def recv_tensors(sock: socket.socket, header: Header, meta: dict,
                 deadline: float | None = None) -> list[tuple[str, np.ndarray]]:
    """Receive the payload into one preallocated buffer; tensors are views on it."""
    raw = np.empty(header.payload_len + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    payload = raw[start:start + header.payload_len]
    recv_into(sock, memoryview(payload), deadline)
    tensors = []
    for name, dtype, shape, offset in tensor_layout(meta, header.payload_len):
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        tensors.append((name, payload[offset:offset + nbytes].view(dtype).reshape(shape)))
    return tensors


def drain(sock: socket.socket, nbytes: int, deadline: float | None = None) -> None:
    """Read and drop `nbytes` (a refused payload) so the connection stays in step."""
    chunk = memoryview(bytearray(min(nbytes, 1 << 20) or 1))
    while nbytes:
        step = min(nbytes, len(chunk))
        recv_into(sock, chunk[:step], deadline)
        nbytes -= step


def recv_frame(sock: socket.socket, max_frame: int, deadline: float | None = None) -> Frame:
    header = recv_header(sock, max_frame, deadline)
    meta = recv_meta(sock, header, deadline)
    tensors = recv_tensors(sock, header, meta, deadline)
    return Frame(header.type, header.request_id, meta, tensors)


def error_meta(exc) -> dict:
    return {"code": exc.code, "message": exc.message, "where": exc.where, "hint": exc.hint}
