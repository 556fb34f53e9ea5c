"""`_contrib_ROIAlign`, including `aligned` and `position_sensitive` (mx2onnx refuses both).

ONNX RoiAlign samples exactly like MXNet's CPU kernel (both come from Detectron: the same
bin grid, `ceil(roi / pooled)` samples when sampling_ratio <= 0, bilinear weights and the
[-1, size] border rule). The rest is mapping:

- `aligned=False` is ONNX's `output_half_pixel` (no -0.5 offset, malformed ROIs forced to
  1x1), `aligned=True` its `half_pixel`. Opset 16 added the attribute with `half_pixel` as the
  default, so mx2onnx's node (it writes no mode) silently turned every plain ROIAlign into an
  aligned one at opset 16-17; we always write the mode. Below opset 16 ONNX has no
  half-pixel RoiAlign and a -0.5 / spatial_scale shift of the ROIs would still get the 1x1
  clamp, so `aligned=True` is refused there (EXP110).
- ROIs are (R, 5) [batch, x1, y1, x2, y2] (MXNet's shape check refuses 4 columns); MXNet's
  sample_ratio -1 is ONNX's 0. For an ROI n with a negative batch index MXNet writes one 0, at
  flat output element n (`top_data[n]`, inside ROI 0's output for n < C * ph * pw), and leaves
  that ROI's own output unset (uninitialized memory: GluonCV's FPN masks ROIs to -1 and sums
  the levels, so its MXNet output is not deterministic). We write that stray 0 too and zeros
  for the unset rows; only rows with a valid index are defined and compared.
- position-sensitive: output channel c of bin (i, j) reads input channel
  c * ph * pw + i * pw + j. RoiAlign pools all C * ph * pw channels and GatherElements picks,
  for each bin, its own channel (ph * pw times the sampling work of a fused kernel, exact).
"""
from __future__ import annotations

import numpy as np

from pipeline.core.errors import ExportError
from pipeline.onnx.export_ops.builder import Builder, flag, floats
from pipeline.onnx.export_ops.registry import EXPORT_OPS, helpers

HALF_PIXEL_OPSET = 16


@EXPORT_OPS.decorator("_contrib_ROIAlign")
def convert_roi_align(node, **kwargs):
    get_inputs, _, _ = helpers()
    name, inputs, attrs = get_inputs(node, kwargs)
    ph, pw = (int(v) for v in floats(attrs.get("pooled_size"), ()))
    aligned = flag(attrs, "aligned", False)
    opset = int(kwargs.get("opset_version", 13))
    if aligned and opset < HALF_PIXEL_OPSET:
        raise ExportError(f"ROIAlign with aligned=True needs ONNX RoiAlign's half_pixel mode (opset "
                          f"{HALF_PIXEL_OPSET}), the export is at opset {opset}", code="EXP110", where=name,
                          hint=f"export with opset {HALF_PIXEL_OPSET} or 17 (e.g. `opset: {HALF_PIXEL_OPSET}` on the "
                               "export stage)")
    g = Builder(name, kwargs["initializer"])
    f32 = np.float32
    data, rois = inputs[:2]
    boxes = g.op("Slice", [rois, g.const([1]), g.const([5]), g.const([1])])  # (R, 4)
    index = g.op("Gather", [rois, g.const(0)], axis=1)  # (R,)
    batch = g.cast(g.op("Relu", [index]), np.int64)
    extra = {"coordinate_transformation_mode": "half_pixel" if aligned else "output_half_pixel"} \
        if opset >= HALF_PIXEL_OPSET else {}
    pooled = g.op("RoiAlign", [data, boxes, batch], mode="avg", output_height=ph, output_width=pw,
                  sampling_ratio=max(int(attrs.get("sample_ratio", -1)), 0),
                  spatial_scale=float(attrs.get("spatial_scale")), **extra)  # (R, C, ph, pw)
    if flag(attrs, "position_sensitive", False):
        pooled = _own_bin_channels(g, pooled, ph * pw, (ph, pw))
    negative = g.op("Less", [index, g.const([0.0], f32)])  # (R,)
    zero = g.const([0.0], f32)
    pooled = g.op("Where", [g.op("Reshape", [negative, g.const([-1, 1, 1, 1])]), zero, pooled])
    # MXNet's kernel writes its 0 for ROI n at flat output element n (top_data[n]), inside another
    # ROI's output when n > 0; reproduced so every element MXNet defines matches
    size = g.op("Reshape", [g.op("Size", [pooled]), g.const([1])])
    pads = g.op("Concat", [g.const([0]), g.op("Sub", [size, g.dim(rois, 0)])], axis=0)
    flat_neg = g.op("Pad", [g.cast(negative, f32), pads])  # (R * C * ph * pw,): 1 at element n of ROI n < 0
    hit = g.op("Reshape", [g.op("Greater", [flat_neg, g.const([0.5], f32)]), g.op("Shape", [pooled])])
    g.op("Where", [hit, zero, pooled], name)
    return g.nodes


def _own_bin_channels(g: Builder, pooled: str, bins: int, pooled_size) -> str:
    """(R, C * bins, ph, pw) -> (R, C, ph, pw): bin s of output channel c from channel c * bins + s."""
    grouped = g.op("Reshape", [pooled, g.const([0, -1, bins, bins])])  # (R, C, channel-in-group, bin)
    shape = g.op("Concat", [g.op("Slice", [g.op("Shape", [grouped]), g.const([0]), g.const([2])]),
                            g.const([1, bins])], axis=0)
    own = g.op("Expand", [g.const(np.arange(bins).reshape(1, 1, 1, bins)), shape])
    picked = g.op("GatherElements", [grouped, own], axis=2)  # (R, C, 1, bins)
    return g.op("Reshape", [picked, g.const([0, -1, *pooled_size])])
