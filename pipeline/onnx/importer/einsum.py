"""Einsum (opset 12) as transposes, reshapes and batch_dot, operand by operand.

Per pair of operands, letters are batch (both and output), contracted (both, not output) or
kept (one side and output); letters only one side needs are summed out first. Repeated
letters within one operand (diagonals) and ellipses are not supported.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.registry import converter


def _parse(equation: str, count: int, ctx):
    eq = equation.replace(" ", "")
    if "..." in eq:
        raise ctx.unsupported("ellipsis ('...') in the equation")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != count:
        raise ctx.unsupported(f"equation '{equation}' for {count} inputs")
    if not _:
        letters = "".join(terms)
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for t in terms:
        if len(set(t)) != len(t):
            raise ctx.unsupported(f"repeated index in '{t}' (a diagonal)")
    return terms, rhs


def _sum_out(x, term, dims, keep):
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term, dims
    x = mx.sym.sum(x, axis=axes)
    kept = [i for i in range(len(term)) if i not in axes]
    return x, "".join(term[i] for i in kept), [dims[i] for i in kept]


def _transpose(x, term, order):
    perm = tuple(term.index(c) for c in order)
    return x if perm == tuple(range(len(perm))) else mx.sym.transpose(x, axes=perm)


def _pair(a, ta, da, b, tb, db, needed):
    """Contract two operands, keeping the letters in `needed` (output and later operands)."""
    a, ta, da = _sum_out(a, ta, da, set(tb) | needed)
    b, tb, db = _sum_out(b, tb, db, set(ta) | needed)
    batch = [c for c in ta if c in tb and c in needed]
    contract = [c for c in ta if c in tb and c not in needed]
    keep_a = [c for c in ta if c not in tb]
    keep_b = [c for c in tb if c not in ta]
    size = {**dict(zip(ta, da)), **dict(zip(tb, db))}
    for c in batch:  # a size-1 batch dim on one side broadcasts
        size[c] = max(dict(zip(ta, da))[c], dict(zip(tb, db))[c])
    a = _transpose(a, ta, batch + keep_a + contract)
    b = _transpose(b, tb, batch + contract + keep_b)
    a = mx.sym.broadcast_to(a, shape=tuple(size[c] for c in batch + keep_a + contract)) \
        if any(dict(zip(ta, da))[c] != size[c] for c in batch) else a
    b = mx.sym.broadcast_to(b, shape=tuple(size[c] for c in batch + contract + keep_b)) \
        if any(dict(zip(tb, db))[c] != size[c] for c in batch) else b

    def prod(cs):
        return int(np.prod([size[c] for c in cs], dtype=np.int64))

    a3 = mx.sym.reshape(a, shape=(prod(batch), prod(keep_a), prod(contract)))
    b3 = mx.sym.reshape(b, shape=(prod(batch), prod(contract), prod(keep_b)))
    out = mx.sym.batch_dot(a3, b3)
    term = "".join(batch + keep_a + keep_b)
    dims = [size[c] for c in term]
    return mx.sym.reshape(out, shape=tuple(dims) or (1,)), term, dims


@converter("Einsum", since=12)
def einsum(node, ctx):
    terms, out_term = _parse(ctx.attr("equation"), len([i for i in range(ctx.num_inputs) if ctx.has_input(i)]), ctx)
    dtype = ctx.dtype(0)
    work = np.float64 if np.issubdtype(dtype, np.integer) else dtype
    ops = [(mx.sym.Cast(ctx.input(i), dtype=work) if work != dtype else ctx.input(i), t, list(ctx.shape(i)))
           for i, t in enumerate(terms)]
    x, term, dims = ops[0]
    for k, (y, ty, dy) in enumerate(ops[1:], start=1):
        later = set(out_term) | {c for _, t, _ in ops[k + 1:] for c in t}
        x, term, dims = _pair(x, term, dims, y, ty, dy, later)
    x, term, dims = _sum_out(x, term, dims, set(out_term))
    x = _transpose(x, term, list(out_term))
    if not out_term:
        x = mx.sym.reshape(x, shape=(1,))
    if work != dtype:
        x = mx.sym.Cast(x, dtype=dtype)
    return mx.sym.identity(x, name=ctx.name)
