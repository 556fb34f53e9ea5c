"""Framing: round trips of every allowed dtype, and refusal of every malformed frame."""
from __future__ import annotations

import json
import socket
import struct
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.accelerator import protocol as proto
from pipeline.accelerator.errors import FrameTooLarge, ProtocolError, UnsupportedDtype
from pipeline.accelerator.protocol import MsgType


def roundtrip(tensors, meta=None, max_frame=1 << 30):
    a, b = socket.socketpair()
    with a, b:
        buffers, length = proto.encode(MsgType.FORWARD, 7, meta or {"key": "m"}, tensors)
        sender = threading.Thread(target=proto.send_buffers, args=(a, buffers))
        sender.start()
        frame = proto.recv_frame(b, max_frame)
        sender.join()
    return frame, length


def raw_frame(meta: bytes, payload: bytes = b"", magic=proto.MAGIC, version=proto.VERSION, msg_type=3,
              meta_len=None, payload_len=None) -> bytes:
    header = proto.HEADER.pack(magic, version, msg_type, 0, 1, len(meta) if meta_len is None else meta_len,
                               len(payload) if payload_len is None else payload_len)
    return header + meta + payload


def recv_raw(data: bytes, max_frame=1 << 20):
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        return proto.recv_frame(b, max_frame)


@pytest.mark.parametrize("dtype", sorted(proto.DTYPES))
def test_every_allowed_dtype_round_trips_aligned(dtype):
    arrays = [("x", (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)), ("odd", np.ones(3, dtype=dtype)),
              ("empty", np.zeros((0, 5), dtype=dtype)), ("scalar", np.array(3, dtype=dtype))]
    frame, length = roundtrip(arrays)
    assert frame.type == MsgType.FORWARD and frame.request_id == 7 and frame.meta["key"] == "m"
    for (name, sent), (got_name, got) in zip(arrays, frame.tensors):
        assert got_name == name and got.dtype == sent.dtype and got.shape == sent.shape
        np.testing.assert_array_equal(got, sent)
        assert got.ctypes.data % proto.ALIGN == 0 or got.nbytes == 0
    assert length == proto.HEADER_SIZE + len(json.dumps(frame.meta, separators=(",", ":"))) + \
        sum(-(-a.nbytes // 64) * 64 for _, a in arrays)


@settings(max_examples=40, deadline=None)
@given(st.lists(hnp.arrays(st.sampled_from([np.float32, np.float16, np.int64, np.uint8]),
                           hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)), max_size=5))
def test_round_trip_property(arrays):
    tensors = [(f"t{i}", a) for i, a in enumerate(arrays)]
    frame, _ = roundtrip(tensors)
    assert [n for n, _ in frame.tensors] == [n for n, _ in tensors]
    for (_, sent), (_, got) in zip(tensors, frame.tensors):
        np.testing.assert_array_equal(got, sent)


def test_non_contiguous_input_is_sent_in_c_order():
    x = np.arange(12, dtype=np.float32).reshape(3, 4).T
    frame, _ = roundtrip([("x", x)])
    np.testing.assert_array_equal(frame.tensors[0][1], x)


def test_send_survives_partial_sends_of_a_large_payload():
    big = np.random.RandomState(0).rand(3_000_000).astype(np.float32)   # 12 MB > socket buffers
    frame, _ = roundtrip([("big", big)], max_frame=1 << 26)
    np.testing.assert_array_equal(frame.tensors[0][1], big)


def test_object_dtype_is_refused_when_sending():
    with pytest.raises(UnsupportedDtype):
        proto.encode(MsgType.FORWARD, 1, {}, [("x", np.array(["a"], dtype=object))])


@pytest.mark.parametrize("data, error, text", [
    (raw_frame(b"{}", magic=b"HTTP"), ProtocolError, "bad magic"),
    (raw_frame(b"{}", version=9), ProtocolError, "version 9"),
    (raw_frame(b"{}", msg_type=200), ProtocolError, "unknown message type"),
    (raw_frame(b"\xff\xfe"), ProtocolError, "not UTF-8 JSON"),
    (raw_frame(b"[1, 2]"), ProtocolError, "JSON object"),
    (raw_frame(b'{"tensors": [{"name": "x", "dtype": "float32", "shape": [2]}]}', b"\0" * 64, payload_len=32),
     ProtocolError, "header says 32"),
    (raw_frame(b'{"tensors": [{"name": "x", "dtype": "object", "shape": [1]}]}', b"\0" * 64), UnsupportedDtype,
     "not allowed"),
    (raw_frame(b'{"tensors": [{"name": "x", "dtype": "float32", "shape": [-1]}]}'), ProtocolError, "malformed"),
    (raw_frame(b'{"tensors": [{"name": 3, "dtype": "float32", "shape": [1]}]}'), ProtocolError, "malformed"),
    (raw_frame(b'{"tensors": "x"}'), ProtocolError, "must be a list"),
    (raw_frame(b"{}", payload_len=1 << 40), FrameTooLarge, "exceeds the maximum"),
    (raw_frame(b"{}", meta_len=proto.MAX_META_BYTES + 1), FrameTooLarge, "exceeds the maximum"),
])
def test_malformed_frames_are_refused(data, error, text):
    with pytest.raises(error, match=text) as info:
        recv_raw(data)
    assert info.value.code.startswith("ACC1")


def test_truncated_frame_is_a_closed_connection_not_a_hang():
    data = raw_frame(b'{"tensors": [{"name": "x", "dtype": "float32", "shape": [16]}]}', b"\0" * 64)
    with pytest.raises(proto.ConnectionClosed) as info:
        recv_raw(data[:-10])
    assert not info.value.clean


def test_header_layout_is_stable():
    assert proto.HEADER_SIZE == 28
    header = proto.HEADER.pack(proto.MAGIC, 1, 3, 0, 5, 10, 64)
    assert struct.unpack("!4sBBHQIQ", header) == (b"MXAC", 1, 3, 0, 5, 10, 64)
