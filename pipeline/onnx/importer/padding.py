"""ONNX pads and auto_pad -> explicit (begin, end) pairs per spatial axis.

Shared by Conv, ConvTranspose and the pools: MXNet pads symmetrically, so asymmetric pads are
reported to the caller, which pads explicitly first.
"""
from __future__ import annotations


def spatial_pads(ctx, in_spatial, kernel, strides, dilations) -> list[tuple[int, int]]:
    """(begin, end) per spatial axis from `pads` or `auto_pad` (SAME_UPPER puts the odd one at the end)."""
    rank = len(in_spatial)
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(in_spatial, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        return pads
    if auto == "VALID":
        return [(0, 0)] * rank
    flat = list(ctx.attr("pads", [0] * (2 * rank)))
    return [(int(flat[i]), int(flat[i + rank])) for i in range(rank)]


def pad_blocks(ctx, x, shape, pads: list[tuple[int, int]], mode: str = "constant", value: float = 0.0,
               dtype=None, tag: str = "pad"):
    """Pad every axis by (begin, end) by concatenating blocks: any rank, any dtype, every ONNX mode.

    MXNet's own pad op only takes 4-D/5-D float inputs with N and C unpadded; this works for
    all. Negative pads crop.
    """
    import mxnet as mx

    shape = list(shape)
    for axis, (begin, end) in enumerate(pads):
        if begin < 0 or end < 0:
            x = mx.sym.slice_axis(x, axis=axis, begin=max(-begin, 0), end=shape[axis] - max(-end, 0))
            shape[axis] -= max(-begin, 0) + max(-end, 0)
            begin, end = max(begin, 0), max(end, 0)
        if begin == 0 and end == 0:
            continue
        parts = []
        for side, count in (("begin", begin), ("end", end)):
            if count == 0:
                parts.append(None)
                continue
            block_shape = tuple(shape[:axis]) + (count,) + tuple(shape[axis + 1:])
            if mode == "constant":
                block = mx.sym.full(shape=block_shape, val=value, dtype=dtype or "float32")
            elif mode == "edge":
                edge = mx.sym.slice_axis(x, axis=axis, begin=0 if side == "begin" else shape[axis] - 1,
                                         end=1 if side == "begin" else shape[axis])
                block = mx.sym.repeat(edge, repeats=count, axis=axis)
            elif mode == "reflect":
                if side == "begin":
                    block = mx.sym.reverse(mx.sym.slice_axis(x, axis=axis, begin=1, end=count + 1), axis=axis)
                else:
                    block = mx.sym.reverse(mx.sym.slice_axis(x, axis=axis, begin=shape[axis] - count - 1,
                                                             end=shape[axis] - 1), axis=axis)
            elif mode == "wrap":
                block = mx.sym.slice_axis(x, axis=axis, begin=shape[axis] - count, end=shape[axis]) \
                    if side == "begin" else mx.sym.slice_axis(x, axis=axis, begin=0, end=count)
            else:
                raise ctx.unsupported(f"pad mode '{mode}'")
            parts.append(block)
        items = ([parts[0]] if parts[0] is not None else []) + [x] + ([parts[1]] if parts[1] is not None else [])
        x = mx.sym.concat(*items, dim=axis, name=ctx.sub(f"{tag}{axis}"))
        shape[axis] += begin + end
    return x, tuple(shape)
