"""EI9xx value ranges: an input's declared `range` must stay inside what the ops it feeds index.

MXNet's `Embedding` clips an out-of-range index to the table's last row (and a negative one to
row 0) without a word; ONNX Runtime's `Gather` refuses the whole request ("indices element out
of data bounds") and OpenVINO returns zeros for it. A random feed, a calibration set or a served
request that draws token ids past the vocabulary therefore verifies on MXNet and fails (or
silently differs) after export. These rules follow each Embedding's index input back through
ops that keep values (casts, reshapes, slices) to a declared input, and compare its range with
the table. They hold for every target: the difference is between the reference and the export.
"""
from __future__ import annotations

import math

from pipeline.core.diagnostics import Diagnostic
from pipeline.checks.subject import CheckSubject, rule

# Ops whose output values are (a subset of) their first input's values.
VALUE_KEEPING = frozenset({
    "Cast", "cast", "amp_cast", "identity", "_copy", "BlockGrad", "stop_gradient", "Reshape", "reshape",
    "reshape_like", "expand_dims", "squeeze", "transpose", "SwapAxis", "swapaxes", "Flatten", "flatten",
    "slice", "slice_axis", "slice_like", "_contrib_index_copy", "take", "broadcast_to", "broadcast_like",
    "tile", "repeat",
})


def _source_input(subject: CheckSubject, entry: list) -> str | None:
    """The declared input whose values reach graph entry `entry` unchanged, or None."""
    nodes = subject.nodes
    node = nodes[entry[0]]
    while node["op"] in VALUE_KEEPING and node["inputs"]:
        node = nodes[node["inputs"][0][0]]
    return node["name"] if node["op"] == "null" else None


@rule("value_ranges")
def check_value_ranges(subject: CheckSubject) -> list[Diagnostic]:
    declared = {spec.name: spec for spec in subject.bundle.inputs}
    found = []
    for node in subject.op_nodes("Embedding"):
        source = _source_input(subject, node["inputs"][0])
        spec = declared.get(source)
        if spec is None:
            continue
        rows = int(subject.attrs(node).get("input_dim", 0))
        if spec.range is None:
            found.append(Diagnostic(
                "EI902", "warning",
                f"input '{spec.name}' indexes Embedding '{node['name']}' ({rows} rows) but declares no range: random "
                f"inputs and calibration draw {'[0, 10)' if spec.whole_numbers else 'normal floats (negative ids)'}, "
                "not token ids", node=node["name"],
                hint=f"declare range: [0, {rows}] and integer: true on input '{spec.name}'"))
            continue
        low, high = spec.range
        top = math.ceil(high) - 1 if spec.whole_numbers else high  # the largest value drawn
        if low < 0 or top > rows - 1 or (not spec.whole_numbers and top >= rows - 0.5):
            found.append(Diagnostic(
                "EI901", "warning",
                f"input '{spec.name}' declares range [{low}, {high}), which indexes past Embedding '{node['name']}' "
                f"({rows} rows, ids 0..{rows - 1}): MXNet clips such ids to the table, ONNX Runtime refuses them "
                "(Gather: indices out of data bounds), so the reference and the export disagree",
                node=node["name"], hint=f"declare range: [0, {rows}] (integer: true) on input '{spec.name}', or deploy "
                                        "with clip_indices: true to keep MXNet's clipping in the export"))
    return found
