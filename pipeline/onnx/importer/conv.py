"""Conv and ConvTranspose -> MXNet Convolution / Deconvolution (1-D, 2-D, 3-D, grouped)."""
from __future__ import annotations

import mxnet as mx

from pipeline.onnx.importer.padding import pad_blocks, spatial_pads
from pipeline.onnx.importer.registry import converter


@converter("Conv", since=1)
@converter("Conv", since=11)
@converter("Conv", since=22)
def conv(node, ctx):
    return convolve(ctx, ctx.input(0), ctx.input(1), ctx.input(2), ctx.shape(0), ctx.shape(1), ctx.dtype(0))


def convolve(ctx, x, w, bias, shape, wshape, dtype, name=None):
    """MXNet pads symmetrically; asymmetric pads (SAME_UPPER with even kernels) are padded first.

    Shared with the quantized convolutions, which pass their own (dequantized) x and w."""
    rank = len(shape) - 2
    kernel = tuple(ctx.attr("kernel_shape", wshape[2:]))
    strides = tuple(ctx.attr("strides", [1] * rank))
    dilations = tuple(ctx.attr("dilations", [1] * rank))
    pads = spatial_pads(ctx, shape[2:], kernel, strides, dilations)
    if any(b != e for b, e in pads):
        x, _ = pad_blocks(ctx, x, shape, [(0, 0), (0, 0)] + pads, dtype=dtype)
        pads = [(0, 0)] * rank
    return mx.sym.Convolution(x, weight=w, bias=bias, kernel=kernel, stride=strides, dilate=dilations,
                              pad=tuple(b for b, _ in pads), num_filter=wshape[0], num_group=ctx.attr("group", 1),
                              no_bias=bias is None, name=name or ctx.name)


@converter("ConvTranspose", since=1)
@converter("ConvTranspose", since=11)
@converter("ConvTranspose", since=22)
def conv_transpose(node, ctx):
    """Deconvolution without padding gives the full output; ONNX pads (or output_shape) crop it
    and output_padding extends it at the end, so crop or extend explicitly, then add the bias."""
    shape, wshape = ctx.shape(0), ctx.shape(1)
    rank = len(shape) - 2
    group = ctx.attr("group", 1)
    kernel = tuple(ctx.attr("kernel_shape", wshape[2:]))
    strides = tuple(ctx.attr("strides", [1] * rank))
    dilations = tuple(ctx.attr("dilations", [1] * rank))
    out_pad = list(ctx.attr("output_padding", [0] * rank))
    full = [s * (n - 1) + (k - 1) * d + 1 for n, k, s, d in zip(shape[2:], kernel, strides, dilations)]
    auto = ctx.attr("auto_pad", "NOTSET")
    if "output_shape" in node.attrs or auto in ("SAME_UPPER", "SAME_LOWER"):
        wanted = list(ctx.attr("output_shape", []))[-rank:] or [n * s for n, s in zip(shape[2:], strides)]
        pads = []
        for f, o, w in zip(full, out_pad, wanted):
            total = f + o - w
            if auto == "SAME_UPPER":
                pads.append((total // 2, total - total // 2))
            else:
                pads.append((total - total // 2, total // 2))
    elif auto == "VALID":
        pads = [(0, 0)] * rank
    else:
        flat = list(ctx.attr("pads", [0] * (2 * rank)))
        pads = [(flat[i], flat[i + rank]) for i in range(rank)]
    num_filter = wshape[1] * group
    x = mx.sym.Deconvolution(ctx.input(0), weight=ctx.input(1), kernel=kernel, stride=strides, dilate=dilations,
                             pad=(0,) * rank, adj=(0,) * rank, num_filter=num_filter, num_group=group, no_bias=True,
                             name=ctx.sub("full"))
    # output_padding extends the end; pads crop (negative pads, from a larger output_shape, extend).
    edges = [(0, 0), (0, 0)] + [(-b, o - e) for (b, e), o in zip(pads, out_pad)]
    if any(b or e for b, e in edges):
        x, _ = pad_blocks(ctx, x, [shape[0], num_filter] + full, edges, dtype=ctx.dtype(0), tag="edges")
    if ctx.has_input(2):
        x = mx.sym.broadcast_add(x, mx.sym.reshape(ctx.input(2), shape=(1, num_filter) + (1,) * rank))
    return mx.sym.identity(x, name=ctx.name)

