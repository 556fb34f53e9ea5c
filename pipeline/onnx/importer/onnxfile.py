"""The one ONNX file reader: parse and validate a file before the importer (and onnx's own helpers) act on it.

Every path that opens an ONNX file reads it here (`pipeline.onnx.load.load_onnx`, the one way
into the importer, and `read_onnx` itself where a caller wants the proto), so the external-data
checks below always run. The importer parses the protobuf and reports unsupported ops
(ONNX101), dynamic inputs without a declared shape (ONNX103) and unknown declared inputs
(ONNX104). What it trusts, and this module checks first:

- external data: `onnx.load_external_data_for_model` opens whatever `location` names; a
  location that is absolute, holds `..` or a symlink out of the model's folder would read
  any file on the machine into a weight (ONNX113). Offsets and lengths must lie inside the
  data file, which must exist (ONNX102);
- initializers whose stored size does not match their dims (ONNX114): MXNet would reshape
  garbage or numpy would raise a ValueError deep in a converter;
- an opset of the default domain newer than the installed onnx knows (ONNX112): its ops
  may mean something else than the converters were written for;
- the ONNX checker (ONNX111) for faults that make the graph meaningless (not topologically
  sorted, not SSA, a duplicate name, a required field missing). Its other findings are left to
  the importer: unknown ops and custom domains (ONNX101 lists all of them at once), a newer
  IR version (read on purpose), missing output shapes (hand-built models omit them).

Nothing in the file is executed: no custom op library is loaded, no Python is imported.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from pipeline.core.runtime_errors import first_error_line
from pipeline.onnx.importer import errors

MAX_BYTES = 2 << 30  # protobuf's own limit for one message
# Checker findings that make a graph meaningless (gated); the rest (missing output shapes,
# unknown ops, newer IR) the importer handles or tolerates on purpose.
_CHECKER_GATES = ("topologically sorted", "single static assignment", "SSA", "is not output of any previous",
                  "Duplicate", "duplicate", "is required but missing", "has no name")
_CHECKER_IGNORED = ("Field 'shape' of 'type'", "No Op registered", "No opset import", "ir_version")


def _fail(message: str, code: str, where: str, hint: str):
    return errors.OnnxImportError(message, code=code, where=where, hint=hint)


def read_onnx(path: str | os.PathLike):
    """The parsed, validated ModelProto with its external data loaded."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    shown = str(path)
    try:
        size = path.stat().st_size
        data = path.read_bytes() if size <= MAX_BYTES else b""
    except OSError as exc:
        raise _fail(f"cannot read the ONNX file ({exc.strerror})", errors.UNREADABLE, shown, "check the path") from None
    if size == 0 or size > MAX_BYTES:
        raise _fail("the file is empty" if size == 0 else f"the file is {size} bytes, over protobuf's 2 GiB limit "
                    "(big weights belong in external data)", errors.UNREADABLE, shown,
                    "give a .onnx file saved by onnx.save")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise _fail(f"not an ONNX model protobuf ({type(exc).__name__}: {first_error_line(exc)[:120]})", errors.UNREADABLE,
                    shown, "give a .onnx file saved by onnx.save; the file may be truncated") from None
    if not model.HasField("graph") or not model.graph.node and not model.graph.output:
        raise _fail("the file holds no graph", errors.UNREADABLE, shown, "give a .onnx file saved by onnx.save")
    _check_text(model, shown)
    _check_opsets(model, shown)
    external = _check_initializers(model, path)
    if external:
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(path.parent))  # every location was checked above
    _check_ssa(model, shown)
    _check_model(model, shown)
    return model


def _check_ssa(model, shown: str) -> None:
    """Each tensor is written once (the checker stops at its first finding, so this is ours)."""
    written = {i.name: "a graph input" for i in model.graph.input}
    written.update({t.name: "an initializer" for t in model.graph.initializer if t.name not in written})
    for index, node in enumerate(model.graph.node):
        for name in node.output:
            if name and name in written:
                label = node.name or f"#{index}"
                raise _fail(f"node '{label}' ({node.op_type}) writes tensor '{name}', already written by "
                            f"{written[name]}: the graph is not in SSA form", "ONNX111", f"{shown}: node '{label}'",
                            "every tensor must be produced once: the file is damaged or was edited by hand")
            if name:
                written[name] = f"node '{node.name or index}'"


def _check_text(message, shown: str, path: str = "model") -> None:
    """Every string field is text: protobuf hands invalid UTF-8 in a proto2 string back as bytes,
    which the importer (and onnx's helpers) would trip over as a TypeError."""
    from google.protobuf.descriptor import FieldDescriptor
    from google.protobuf.message import Message

    for field, value in message.ListFields():
        single = isinstance(value, (Message, str, bytes, int, float, bool))
        items = [value] if single else list(value)
        if field.type == FieldDescriptor.TYPE_STRING and any(isinstance(v, bytes) for v in items):
            raise _fail(f"{path}.{field.name} is not valid UTF-8 text", errors.UNREADABLE, shown,
                        "the file is damaged: export the model again")
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for index, item in enumerate(items):
                _check_text(item, shown, f"{path}.{field.name}" + ("" if single else f"[{index}]"))


def _check_opsets(model, shown: str) -> None:
    import onnx

    known = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > known:
            raise _fail(f"the model imports opset {opset.version} of the default domain; this onnx knows up to "
                        f"{known}", "ONNX112", shown, f"re-export the model at opset {known} or lower")


def _itemsize(data_type: int) -> int | None:
    import onnx

    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(data_type)
    except (KeyError, ValueError, TypeError):
        return None
    if data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED) or dtype.kind in "OUSV":
        return None
    # 4-bit types pack two per byte; sub-byte sizes are left to the importer (ONNX108)
    return None if data_type in (getattr(onnx.TensorProto, "INT4", -1), getattr(onnx.TensorProto, "UINT4", -1)) \
        else dtype.itemsize


def _typed_count(tensor) -> int:
    return max(len(tensor.float_data), len(tensor.int32_data), len(tensor.int64_data), len(tensor.double_data),
               len(tensor.uint64_data), len(tensor.string_data))


def _check_initializers(model, path: Path) -> bool:
    """Dims and stored sizes agree; external locations stay inside the model's folder."""
    import onnx

    folder = path.parent.resolve()
    external = False
    for tensor in model.graph.initializer:
        where = f"{path}: initializer '{tensor.name}'"
        if any(d < 0 for d in tensor.dims):
            raise _fail(f"dims {list(tensor.dims)} have a negative size", "ONNX114", where, "the file is damaged")
        count = math.prod(tensor.dims)
        itemsize = _itemsize(tensor.data_type)
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            external = True
            _check_external(tensor, folder, path, where, None if itemsize is None else count * itemsize)
            continue
        if itemsize is None:
            continue
        if tensor.HasField("raw_data"):
            if len(tensor.raw_data) != count * itemsize:
                raise _fail(f"holds {len(tensor.raw_data)} bytes, but dims {list(tensor.dims)} need "
                            f"{count * itemsize}", "ONNX114", where, "the file is damaged or was edited by hand")
        elif _typed_count(tensor) != count and tensor.data_type not in (onnx.TensorProto.COMPLEX64,
                                                                        onnx.TensorProto.COMPLEX128):
            raise _fail(f"holds {_typed_count(tensor)} values, but dims {list(tensor.dims)} need {count}",
                        "ONNX114", where, "the file is damaged or was edited by hand")
    return external


def _check_external(tensor, folder: Path, path: Path, where: str, expected: int | None) -> None:
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    rel = Path(location)
    if not location or rel.is_absolute() or ".." in rel.parts or location.startswith(("/", "\\")) or ":" in location:
        raise _fail(f"external data location '{location}' is not a plain relative path", "ONNX113", where,
                    "external data must be a file beside the model (onnx.save_model(..., location='x.data'))")
    target = (folder / rel).resolve()
    if not target.is_relative_to(folder):
        raise _fail(f"external data location '{location}' leads out of the model's folder (to {target})", "ONNX113",
                    where, "external data must be a file inside the model's folder")
    if not target.is_file():
        raise _fail(f"external data file '{location}' is missing", errors.UNREADABLE, where,
                    f"keep '{location}' beside the model ({folder})")
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise _fail("external data offset/length are not integers", "ONNX113", where, "the file is damaged") from None
    size = target.stat().st_size
    available = size - offset
    if offset < 0 or available < 0 or (length is not None and (length < 0 or length > available)):
        raise _fail(f"external data range (offset {offset}, length {length}) lies outside '{location}' "
                    f"({size} bytes)", "ONNX113", where, f"'{location}' is truncated or belongs to another model")
    have = length if length is not None else available
    if expected is not None and (have < expected or (length is not None and length != expected)):
        raise _fail(f"external data holds {have} bytes, but dims "
                    f"{list(tensor.dims)} need {expected}", "ONNX114", where,
                    f"'{location}' is truncated or belongs to another model")


def _check_model(model, shown: str) -> None:
    import onnx

    try:
        onnx.checker.check_model(model, full_check=False)
    except onnx.checker.ValidationError as exc:
        text = str(exc)
        if any(m in text for m in _CHECKER_IGNORED) or not any(m in text for m in _CHECKER_GATES):
            return
        first = first_error_line(exc)
        node = _node_from_checker(text)
        raise _fail(f"the ONNX checker refuses the model: {first[:200]}", "ONNX111",
                    f"{shown}: node '{node}'" if node else shown,
                    "the file is damaged, or was written by a tool that breaks the ONNX spec") from None
    except (ValueError, RecursionError) as exc:  # the checker serializes; a >2 GiB model lands here
        raise _fail(f"the ONNX checker cannot read the model ({first_error_line(exc)[:120]})", "ONNX111", shown,
                    "give a .onnx file saved by onnx.save") from None


def _node_from_checker(text: str) -> str | None:
    marker = "Bad node spec for node. Name: "
    if marker in text:
        return text.split(marker, 1)[1].split(" OpType")[0].strip()
    return None
