"""Data-dependent row counts (NonMaxSuppression's selection) carried through a static graph.

ONNX's NonMaxSuppression returns [num_selected, 3]; an MXNet Symbol needs static shapes. Our
converter (detection.py) returns the fixed bound [M, 3] instead (M = batches * classes *
min(max_output_boxes_per_class, boxes)): the selected triples first, in ONNX's order, then
padding rows of -1. Which rows are real is read back from the tensor itself (column 0 >= 0).

Every tensor derived from it is tracked here, and a node that consumes one is converted by a
handler of this module or refused (ONNX115): nothing padded reaches an op that would read the
padding as data. Exact, and therefore handled:

- `Cast`, `Identity`, and `Gather` / `Slice` along any axis but the rows (columns of the
  triples): the result keeps the padded rows;
- `Shape` of a padded tensor: a static vector whose first element stands for the count, and
  `Slice` of that vector; `Expand(x, that shape)` when the count lands on axis 0 and x
  broadcasts there: padded rows again (our box_nms export's `ones` updates);
- `ScatterND(data, indices, updates)` with indices (rows on axis 0) and updates padded by the
  same NonMaxSuppression: padded rows are redirected to a scratch slot past `data`'s first
  axis and dropped, so the result is exactly ONNX's; it is an ordinary tensor again.

Refused (ONNX115): anything else reading a tracked tensor (a padded tensor as a graph output,
Gather/Slice/Reduce over the rows, the count used in arithmetic, Concat, Reshape...), since the
padded form would be read as data there.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import mxnet as mx
import numpy as np

from pipeline.core.errors import InternalError
from pipeline.onnx.importer import errors
from pipeline.onnx.importer.context import ConvertContext, norm_axis, param


@dataclass(frozen=True)
class Selection:
    """What a tracked tensor holds: rows of `source` (padded on axis 0), or, with `count_at`,
    a static shape vector whose element `count_at` stands for the row count."""

    origin: str  # the NonMaxSuppression node
    source: str  # its padded output tensor, whose column 0 is -1 on padding rows
    bound: int
    count_at: int | None = None


Handler = Callable[[ConvertContext, dict, Callable[[], list]], list]
_HANDLERS: dict[str, Handler] = {}


def handles(*ops: str):
    def wrap(fn: Handler) -> Handler:
        for op in ops:
            if op in _HANDLERS:
                raise InternalError(f"selection handler for {op} registered twice")
            _HANDLERS[op] = fn
        return fn

    return wrap


def record(state, tensor: str, selection: Selection) -> None:
    state.selections[tensor] = selection


def reaching(node, state) -> dict[int, Selection]:
    """Input index -> Selection for each tracked input of `node`."""
    return {i: state.selections[t] for i, t in enumerate(node.inputs) if t in state.selections}


def convert(ctx: ConvertContext, found: dict[int, Selection], standard: Callable[[], list]) -> list:
    """Convert a node that reads tracked tensors: by its handler, or a coded refusal."""
    handler = _HANDLERS.get(ctx.node.op_type)
    if handler is None:
        raise refusal(ctx, found, "it has no exact form for a padded selection")
    return handler(ctx, found, standard)


def check_outputs(names, state) -> None:
    for name in names:
        if name in state.selections:
            sel = state.selections[name]
            raise errors.OnnxImportError(
                f"graph output '{name}' has a data-dependent length (the selection of NonMaxSuppression "
                f"node '{sel.origin}'), which an MXNet Symbol cannot return: it would carry {sel.bound} padded rows",
                code=errors.DATA_DEPENDENT, where=name,
                hint="end the graph in a fixed-size result (e.g. ScatterND the selection into a mask)")


def refusal(ctx: ConvertContext, found: dict[int, Selection], why: str) -> errors.OnnxImportError:
    i, sel = next(iter(found.items()))
    what = "the row count" if sel.count_at is not None else "rows"
    return errors.OnnxImportError(
        f"{ctx.node.op_type} node '{ctx.node.label}' reads '{ctx.node.inputs[i]}', {what} of the data-dependent "
        f"selection of NonMaxSuppression node '{sel.origin}' (padded to {sel.bound} rows here): {why}",
        code=errors.DATA_DEPENDENT, where=ctx.node.label,
        hint="exact consumers: Gather/Slice of columns, Shape->Slice->Expand of the count, ScatterND "
             "(pipeline/onnx/importer/selection.py)")


def row_mask(ctx: ConvertContext, sel: Selection):
    """(bound,) float32: 1 on the selected rows of `sel.source`, 0 on padding."""
    first = mx.sym.slice_axis(ctx.state.symbol(sel.source), axis=1, begin=0, end=1)
    valid = mx.sym.Cast(mx.sym.Cast(first, dtype="float32") >= 0, dtype="float32")
    return mx.sym.reshape(valid, shape=(sel.bound,))


def _mark(ctx: ConvertContext, values: list, selection: Selection | None) -> list:
    if selection is not None and ctx.node.outputs and ctx.node.outputs[0]:
        record(ctx.state, ctx.node.outputs[0], selection)
    return values


def _rows_only(ctx, found, allowed: tuple[int, ...]) -> Selection:
    bad = [i for i in found if i not in allowed or found[i].count_at is not None]
    if bad:
        raise refusal(ctx, {bad[0]: found[bad[0]]}, "only its padded rows, as input "
                      f"{' or '.join(map(str, allowed))}, can be read here")
    return found[allowed[0]]


@handles("Cast", "Identity")
def _same(ctx, found, standard):
    return _mark(ctx, standard(), found[0])


@handles("Gather")
def _gather(ctx, found, standard):
    sel = _rows_only(ctx, found, (0,))
    if norm_axis(ctx.attr("axis", 0), ctx.rank(0)) == 0:
        raise refusal(ctx, found, "gathering along the rows would pick padding as data")
    return _mark(ctx, standard(), sel)


@handles("Slice")
def _slice(ctx, found, standard):
    from pipeline.onnx.importer.shape import slice_axes

    if any(i != 0 for i in found):
        raise refusal(ctx, found, "slice bounds cannot depend on the count")
    sel, spans = found[0], slice_axes(ctx)
    if sel.count_at is None:
        if 0 in spans:
            raise refusal(ctx, found, "slicing along the rows would depend on the count")
        return _mark(ctx, standard(), sel)
    positions = np.arange(ctx.shape(0)[0])[slice(*spans[0])] if 0 in spans else np.arange(ctx.shape(0)[0])
    hit = np.flatnonzero(positions == sel.count_at)
    return _mark(ctx, standard(), replace(sel, count_at=int(hit[0])) if hit.size else None)


@handles("Shape")
def _shape(ctx, found, standard):
    sel = found[0]
    if sel.count_at is not None:  # the length of a shape vector is static
        return standard()
    positions = np.arange(ctx.rank(0))[slice(ctx.attr("start", 0), ctx.attr("end", None))]
    hit = np.flatnonzero(positions == 0)
    return _mark(ctx, standard(), replace(sel, count_at=0) if hit.size else None)


@handles("Expand")
def _expand(ctx, found, standard):
    if 0 in found or found[1].count_at is None:
        raise refusal(ctx, found, "only a broadcast to a shape holding the count is exact")
    sel, target = found[1], ctx.shape(1)[0]
    shape = ctx.shape(0)
    out_rank = max(len(shape), target)
    axis = sel.count_at + out_rank - target
    padded = (1,) * (out_rank - len(shape)) + tuple(shape)
    if axis != 0 or padded[0] != 1:
        raise refusal(ctx, found, "the count must become axis 0, broadcast from size 1")
    return _mark(ctx, standard(), replace(sel, count_at=None))


@handles("ScatterND")
def _scatter_nd(ctx, found, standard):
    from pipeline.onnx.importer.gather import scatter_sym

    if 0 in found or set(found) != {1, 2} or found[1].source != found[2].source or \
            found[1].count_at is not None or found[2].count_at is not None:
        raise refusal(ctx, found, "exact only for indices and updates padded by the same selection "
                                  "into an ordinary data tensor")
    sel, ishape, dshape = found[1], ctx.shape(1), ctx.shape(0)
    if len(ishape) < 2:
        raise refusal(ctx, found, "the indices must hold one coordinate row per selected row")
    idx = mx.sym.Cast(ctx.input(1), dtype="int64")
    keep = mx.sym.Cast(mx.sym.reshape(row_mask(ctx, sel), shape=(sel.bound,) + (1,) * (len(ishape) - 1)),
                       dtype="int64")
    # a padding row's coordinates become (d0, 0, ...): the scratch slot (its -1s would wrap into data)
    idx = mx.sym.broadcast_add(mx.sym.broadcast_mul(idx, keep),
                               mx.sym.broadcast_mul(1 - keep, param(ctx, _first_axis(ishape[-1], dshape[0]), "slot")))
    scratch = mx.sym.zeros(shape=(1,) + tuple(dshape[1:]), dtype=ctx.dtype(0))
    data = mx.sym.concat(ctx.input(0), scratch, dim=0)
    shape = (dshape[0] + 1,) + tuple(dshape[1:])
    out = scatter_sym(ctx, data, idx, ctx.input(2), shape, ctx.attr("reduction", "none"))
    return [mx.sym.slice_axis(out, axis=0, begin=0, end=dshape[0], name=ctx.sub("out"))]


def _first_axis(width: int, value: int) -> np.ndarray:
    row = np.zeros(width, dtype=np.int64)
    row[0] = value
    return row
