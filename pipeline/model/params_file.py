"""Load a checkpoint's params file only after its structure and names check out.

Order: the byte layout (ndarray_file.read_structure: header, counts and sizes against the
file length), then damage a valid layout can still hide, then the names and shapes against
the graph, and only then `mx.nd.load`.

What a raw checkpoint lets us detect, honestly: a bundle records a sha256 of each file, a
raw checkpoint records nothing, so damage that keeps the layout valid and changes only
weight values (a flipped bit in a float) is undetectable here. Truncation, a damaged header,
count or name table, and a file zeroed from some byte to its end (the headers and the names
table there become zeros, which MXNet itself reads as empty arrays and an unnamed list) are
always caught. A weight (a `*weight` array of 2+ dims and 64+ elements) whose data is all
zero bytes while other weights are not is refused too: initializers and training never
produce one, zeroing in place does. A file whose weights are all zero (written for a
shape-only check) is accepted; a zeroed region inside one array's data is not detectable.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from pipeline.core.errors import ModelError
from pipeline.model.ndarray_file import NDArrayFile, read_structure, region_is_zero, zero_tail_start
from pipeline.core.runtime_errors import first_error_line

_RESTORE = "the file is damaged: restore it from the original checkpoint"
_LOG_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ")  # MXNet's "[15:39:09] ../src/x.cc:47: " log prefix


def read_params_file(path: str | os.PathLike) -> NDArrayFile:
    """The validated layout of a params file (MDL003, LDR201-LDR204)."""
    path = Path(path)
    try:
        layout = read_structure(path)
    except ModelError as exc:
        zeroed = zero_tail_start(path, path.stat().st_size)
        size = path.stat().st_size
        if exc.code != "MDL003" and size - zeroed >= 16:
            raise ModelError(f"the file is all zero bytes from byte {zeroed} to its end ({size - zeroed} of "
                             f"{size} bytes): it was zeroed or padded after a cut", where=f"{path}: byte {zeroed}",
                             code="LDR204", hint=_RESTORE) from None
        raise
    except OSError as exc:
        raise ModelError(f"cannot read the params file: {exc.strerror}", where=str(path), code="MDL001") from None
    _check_zeroed_weights(layout)
    return layout


def _check_zeroed_weights(layout: NDArrayFile) -> None:
    """Some weights all zero while others are not: zeroed in place (a zero-initialized file is fine)."""
    weights = [(r, n) for r, n in zip(layout.arrays, layout.names or [None] * len(layout.arrays))
               if n and n.endswith("weight") and len(r.shape) >= 2 and r.stype == 0 and r.data_bytes >= 64 * 2]
    zeroed = [(r, n) for r, n in weights if region_is_zero(layout.path, r.data_offset, r.data_bytes)]
    if zeroed and len(zeroed) < len(weights):
        record, name = zeroed[0]
        raise ModelError(f"weight '{name}' {record.shape} is all zeros while the other weights are not: the file "
                         f"looks zeroed from byte {record.data_offset}", where=f"{layout.path}: array "
                         f"#{record.index} '{name}'", code="LDR204",
                         hint=_RESTORE + " (no initializer or training yields one all-zero weight among others)")


def checkpoint_params(path: str | os.PathLike, layout: NDArrayFile) -> tuple[dict, dict]:
    """Split names into arg/aux shapes; every name must carry MXNet's `arg:`/`aux:` prefix."""
    if not layout.names:
        raise ModelError(f"the params file holds {len(layout.arrays)} unnamed arrays", where=str(path),
                         code="MDL003", hint="a checkpoint's params are saved as a dict with arg:NAME / aux:NAME keys")
    args, auxs = {}, {}
    for record, name in zip(layout.arrays, layout.names):
        kind, sep, short = name.partition(":")
        if not sep or kind not in ("arg", "aux") or not short:
            raise ModelError(f"array name '{name}' has no arg: or aux: prefix", where=f"{path}: array #{record.index} "
                             f"'{name}'", code="LDR205", hint="save checkpoints with mx.model.save_checkpoint (or a "
                                                              "dict keyed arg:NAME / aux:NAME)")
        (args if kind == "arg" else auxs)[short] = record.shape
    return args, auxs


def check_against_graph(sym, path: str, arg_shapes: dict, aux_shapes: dict, inputs: dict, labels: set) -> None:
    """Extra and wrong-shaped arrays are named (LDR206, LDR207); shapes come from infer_shape."""
    import mxnet as mx

    arguments, auxiliary = sym.list_arguments(), sym.list_auxiliary_states()
    extra = [f"arg:{n}" for n in arg_shapes if n not in arguments] + \
            [f"aux:{n}" for n in aux_shapes if n not in auxiliary]
    if extra:
        raise ModelError(f"the params file has array(s) the graph does not use: {', '.join(extra[:5])}"
                         + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""), where=f"{path}: '{extra[0]}'",
                         code="LDR206", hint="give the params file saved with this symbol (same prefix and epoch)")
    given = {n: s for n, s in inputs.items() if n in arguments}
    try:
        inferred_args, _, inferred_aux = sym.infer_shape_partial(**given)
    except mx.MXNetError as exc:
        reason = _LOG_PREFIX.sub("", first_error_line(exc))
        raise ModelError(f"the graph's shapes cannot be inferred from the declared inputs: {reason}",
                         where=f"{path}", code="LDR208",
                         hint="check the --input / inputs: shapes against what the model expects") from None
    for names, inferred, table, kind in ((arguments, inferred_args, arg_shapes, "arg"),
                                         (auxiliary, inferred_aux, aux_shapes, "aux")):
        for name, shape in zip(names, inferred or []):
            have = table.get(name)
            if have is None or not shape or 0 in shape or name in inputs or name in labels:
                continue
            if tuple(have) != tuple(shape):
                raise ModelError(f"{kind}:{name} has shape {tuple(have)}, but the graph needs {tuple(shape)} for the "
                                 f"declared inputs", where=f"{path}: '{kind}:{name}'", code="LDR207",
                                 hint="the params file belongs to another model or epoch, or the declared input "
                                      "shape is wrong")


def load_arrays(path: str | os.PathLike) -> dict:
    """`mx.nd.load` of a file already validated by read_params_file."""
    import mxnet as mx

    try:
        loaded = mx.nd.load(str(path))
    except mx.MXNetError as exc:
        raise ModelError(f"MXNet cannot load the params: {first_error_line(exc)}", where=str(path), code="MDL003",
                         hint="give the .params file mx.model.save_checkpoint wrote") from None
    if not isinstance(loaded, dict):
        raise ModelError("the params file holds an unnamed list of arrays", where=str(path), code="MDL003",
                         hint="a checkpoint's params are saved as a dict with arg:NAME / aux:NAME keys")
    return loaded
