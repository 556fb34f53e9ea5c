"""The NDArray file layout reader agrees with mx.nd.load on every format it accepts."""
from __future__ import annotations

import struct

import mxnet as mx
import numpy as np
import pytest

from pipeline.core.errors import ModelError
from pipeline.model.ndarray_file import read_structure, zero_tail_start


def test_dense_dtypes_and_names_match_mxnet(tmp_path):
    path = tmp_path / "a.params"
    arrays = {f"arg:{dt}": mx.nd.array(np.arange(6).reshape(2, 3), dtype=dt)
              for dt in ("float32", "float64", "float16", "uint8", "int32", "int8", "int64")}
    arrays["aux:flag"] = mx.nd.array([1, 0], dtype="bool")
    mx.nd.save(str(path), arrays)
    layout = read_structure(path)
    loaded = mx.nd.load(str(path))
    assert layout.names == list(loaded)
    for record, name in zip(layout.arrays, layout.names):
        assert record.shape == loaded[name].shape and record.dtype == np.dtype(loaded[name].dtype).name


def test_sparse_arrays_are_walked(tmp_path):
    path = tmp_path / "s.params"
    rsp = mx.nd.sparse.row_sparse_array((np.ones((1, 2), "float32"), [1]), shape=(3, 2))
    csr = mx.nd.sparse.csr_matrix(np.eye(3, dtype="float32"))
    mx.nd.save(str(path), {"arg:r": rsp, "arg:c": csr})
    layout = read_structure(path)
    assert [r.stype for r in layout.arrays] == [1, 2] and layout.arrays[-1].end < layout.size


def test_pre_v1_legacy_layout_is_read(tmp_path):
    """Pre-V1 arrays: u32 ndim (the 'magic'), u32 dims, context, dtype, data; MXNet still loads them."""
    body = struct.pack("<I2I", 2, 2, 3) + struct.pack("<iii", 1, 0, 0) + np.arange(6, dtype="float32").tobytes()
    name = b"arg:w"
    data = struct.pack("<QQQ", 0x112, 0, 1) + body + struct.pack("<QQ", 1, len(name)) + name
    path = tmp_path / "old.params"
    path.write_bytes(data)
    assert read_structure(path).arrays[0].shape == (2, 3)
    assert mx.nd.load(str(path))["arg:w"].shape == (2, 3)


def test_every_truncation_is_refused_before_mxnet(tmp_path):
    path = tmp_path / "t.params"
    mx.nd.save(str(path), {"arg:w": mx.nd.ones((4, 4)), "arg:b": mx.nd.ones(4)})
    data = path.read_bytes()
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelError) as info:
            read_structure(path)
        assert info.value.code in ("LDR201", "MDL003", "LDR203"), cut


def test_zero_tail_start(tmp_path):
    path = tmp_path / "z"
    path.write_bytes(b"abc" + b"\0" * 100_000)
    assert zero_tail_start(path, 100_003, chunk=4096) == 3
