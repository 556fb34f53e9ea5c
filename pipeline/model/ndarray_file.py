"""A pure-Python reader of the structure of MXNet's NDArray list file (`mx.nd.save`).

MXNet 1.9.1's `NDArray::Load` trusts every length it reads: a truncated or bit-flipped file
becomes a multi-gigabyte allocation (`std::bad_alloc`), a silent short read, or a half-empty
dict. So before `mx.nd.load` sees a file we walk its layout here, without reading the data,
and check every count and size against the file length.

Layout (src/ndarray/ndarray.cc, `NDArray::Save(fo, data, names)`; all little-endian):

    u64 0x112 (kMXAPINDArrayListMagic)   u64 reserved   u64 count   count x array
    u64 name_count (0 or count)          name_count x (u64 length, bytes)

and each array (`NDArray::Save`), in the V2 form every MXNet >= 1.0 writes:

    u32 0xF993fac9   i32 storage type (0 dense, 1 row_sparse, 2 csr)
    [sparse: storage shape]   shape   i32 dev_type   i32 dev_id   i32 dtype
    [sparse: per aux array: i32 aux dtype, aux shape]   data   [sparse: aux data]

A shape is i32 ndim then ndim x i64. Older files use V1 (0xF993fac8: no storage type) or
the pre-V1 form where the first u32 is ndim and dims are u32; an ndim of 0 is an empty
array. Parsing never allocates more than the file holds.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import ModelError

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA
MAX_NDIM = 32  # MXNet shapes never come near this; a bigger ndim is damage
MAX_NAME = 1 << 16

# mshadow type flags -> (numpy name, bytes per element)
DTYPES = {0: ("float32", 4), 1: ("float64", 8), 2: ("float16", 2), 3: ("uint8", 1), 4: ("int32", 4),
          5: ("int8", 1), 6: ("int64", 8), 7: ("bool", 1), 8: ("int16", 2), 9: ("uint16", 2),
          10: ("uint32", 4), 11: ("uint64", 8), 12: ("bfloat16", 2)}
DEV_TYPES = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
SPARSE_AUX = {0: 0, 1: 1, 2: 2}  # storage type -> number of aux arrays (row_sparse: idx; csr: indptr, idx)


@dataclass(frozen=True)
class ArrayRecord:
    """Where one array sits in the file and what its header declares."""

    index: int
    offset: int  # of its header
    shape: tuple[int, ...]
    dtype: str
    stype: int
    data_offset: int
    data_bytes: int  # of the main data (sparse: the stored values only)
    end: int


@dataclass(frozen=True)
class NDArrayFile:
    path: str
    size: int
    arrays: list[ArrayRecord]
    names: list[str]


class _Reader:
    def __init__(self, fh, path: str, size: int):
        self.fh, self.path, self.size, self.pos = fh, path, size, 0

    def fail(self, message: str, code: str, *, at: int | None = None, hint: str = "") -> ModelError:
        at = self.pos if at is None else at
        return ModelError(message, where=f"{self.path}: byte {at}", code=code,
                          hint=hint or "the file is damaged: restore it from the original checkpoint")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"truncated: {what} needs {n} bytes at byte {self.pos}, but the file ends at "
                            f"{self.size}", "LDR201", hint="the file was cut short (an interrupted copy or "
                                                           "download): copy it again from its source")

    def read(self, fmt: str, what: str):
        n = struct.calcsize(fmt)
        self.need(n, what)
        self.fh.seek(self.pos)
        data = self.fh.read(n)
        self.pos += n
        return struct.unpack(fmt, data)

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n


def _shape(r: _Reader, what: str, legacy_ndim: int | None = None) -> tuple[int, ...]:
    if legacy_ndim is not None:  # pre-V1: the magic was ndim, dims are u32
        ndim, fmt = legacy_ndim, "<{}I"
    else:
        (ndim,) = r.read("<i", f"{what} ndim")
        fmt = "<{}q"
    if ndim < 0 or ndim > MAX_NDIM:
        raise r.fail(f"{what} has {ndim} dimensions", "LDR202", at=r.pos - 4)
    dims = r.read(fmt.format(ndim), f"{what} dims") if ndim else ()
    if any(d < 0 for d in dims):
        raise r.fail(f"{what} has a negative dimension {tuple(dims)}", "LDR202")
    return tuple(int(d) for d in dims)


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _array(r: _Reader, index: int) -> ArrayRecord:
    start = r.pos
    what = f"array #{index}"
    (magic,) = r.read("<I", f"{what} header")
    stype, sshape, legacy = 0, None, None
    if magic == V3_MAGIC:
        raise r.fail(f"{what} uses MXNet's numpy-shape format (V3), which a checkpoint does not", "LDR202",
                     at=start, hint="save it with mx.nd.save outside npx.set_np()")
    if magic == V2_MAGIC:
        (stype,) = r.read("<i", f"{what} storage type")
        if stype not in SPARSE_AUX:
            raise r.fail(f"{what} has unknown storage type {stype}", "LDR202", at=r.pos - 4)
        if SPARSE_AUX[stype]:
            sshape = _shape(r, f"{what} storage shape")
    elif magic != V1_MAGIC:
        if magic == 0:
            raise r.fail(f"{what} has an all-zero header (an empty array): the file looks zeroed from here",
                         "LDR204", at=start, hint="the file was overwritten with zeros: restore it from the "
                                                  "original checkpoint")
        if magic > MAX_NDIM:
            raise r.fail(f"{what} has no valid header (0x{magic:08x} is not an NDArray magic)", "LDR202",
                         at=start)
        legacy = magic
    shape = _shape(r, f"{what} shape", legacy)
    if not shape:
        raise r.fail(f"{what} is empty (no shape)", "LDR202", at=start,
                     hint="mx.nd.save never writes an empty array into a checkpoint: the file is damaged")
    dev_type, _dev_id, type_flag = r.read("<iii", f"{what} context and dtype")
    if dev_type not in DEV_TYPES:
        raise r.fail(f"{what} names unknown device type {dev_type}", "LDR202", at=r.pos - 12)
    if type_flag not in DTYPES:
        raise r.fail(f"{what} has unknown dtype flag {type_flag}", "LDR202", at=r.pos - 4)
    dtype, itemsize = DTYPES[type_flag]
    aux = []
    for k in range(SPARSE_AUX[stype]):
        (aux_type,) = r.read("<i", f"{what} aux type")
        if aux_type not in DTYPES:
            raise r.fail(f"{what} aux {k} has unknown dtype flag {aux_type}", "LDR202", at=r.pos - 4)
        aux.append((DTYPES[aux_type][1], _shape(r, f"{what} aux shape {k}")))
    if sshape is not None and _count(sshape) == 0 and aux:
        # MXNet derives an unset storage shape from the aux shapes (ndarray.h): row_sparse
        # from its index (rows x the row shape), csr from its indices (aux 1)
        sshape = (aux[0][1][:1] + shape[1:]) if stype == 1 else aux[-1][1]
    data_offset = r.pos
    data_bytes = itemsize * _count(sshape if sshape is not None else shape)
    r.skip(data_bytes, f"{what} data ({dtype} {shape})")
    for size, aux_shape in aux:
        r.skip(size * _count(aux_shape), f"{what} aux data")
    return ArrayRecord(index, start, shape, dtype, stype, data_offset, data_bytes, r.pos)


def read_structure(path: str | os.PathLike) -> NDArrayFile:
    """Walk the file's layout; raise ModelError (MDL003, LDR201-LDR204) on anything MXNet would choke on."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        r = _Reader(fh, str(path), size)
        if size < 24:
            raise r.fail(f"too short for an NDArray file ({size} bytes)", "MDL003" if size == 0 else "LDR201",
                         at=0, hint="give the .params file mx.model.save_checkpoint or mx.nd.save wrote")
        magic, _reserved, count = r.read("<QQQ", "file header")
        if magic != LIST_MAGIC:
            raise r.fail(f"not an MXNet NDArray file (header 0x{magic:x}, expected 0x112)", "MDL003", at=0,
                         hint="give the .params file mx.model.save_checkpoint or mx.nd.save wrote "
                              "(not a Gluon .params of another framework, a pickle or an ONNX file)")
        # every array takes at least 20 bytes (a pre-V1 scalar): a count beyond that is damage
        if count > (size - 32) // 20:
            raise r.fail(f"header declares {count} arrays, more than a {size}-byte file can hold", "LDR201", at=16)
        arrays = [_array(r, i) for i in range(count)]
        names_at = r.pos
        (name_count,) = r.read("<Q", "names count")
        if name_count not in (0, count):
            raise r.fail(f"names table declares {name_count} names for {count} arrays", "LDR203", at=names_at)
        names = []
        for i in range(name_count):
            (length,) = r.read("<Q", f"name #{i} length")
            if length > MAX_NAME:
                raise r.fail(f"name #{i} declares {length} bytes", "LDR203", at=r.pos - 8)
            r.need(length, f"name #{i}")
            fh.seek(r.pos)
            raw = fh.read(length)
            r.pos += length
            try:
                names.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise r.fail(f"name #{i} is not UTF-8 text", "LDR203", at=r.pos - length) from None
        if r.pos != size:
            raise r.fail(f"{size - r.pos} unexpected bytes after the names table", "LDR203",
                         hint="the file was appended to or damaged: restore it from the original checkpoint")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})[0]
            raise r.fail(f"array name '{dup}' appears twice", "LDR203", at=names_at)
    return NDArrayFile(str(path), size, arrays, names)


def zero_tail_start(path: str | os.PathLike, size: int, chunk: int = 1 << 16) -> int:
    """The offset from which the file is all zero bytes to its end (== size when it is not)."""
    start = size
    with open(path, "rb") as fh:
        while start > 0:
            lo = max(0, start - chunk)
            fh.seek(lo)
            block = fh.read(start - lo)
            stripped = block.rstrip(b"\0")
            if stripped:
                return lo + len(stripped)
            start = lo
    return 0


def region_is_zero(path: str | os.PathLike, offset: int, length: int, chunk: int = 1 << 20) -> bool:
    with open(path, "rb") as fh:
        fh.seek(offset)
        while length > 0:
            block = fh.read(min(chunk, length))
            if not block or block.count(0) != len(block):
                return False
            length -= len(block)
    return True
