"""EI6xx memory: does the model fit the target's memory, and which size is the smallest that does.

Needed memory = params + inputs + the activations MXNet's memory planner allocates
(pipeline/measure/memory.py), per declared input shape. An accelerator that runs out of memory fails
at the first forward with an opaque "EI Error Code: [12, 5, 13] Internal error"; here it is
an error before deployment naming the size to use instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.measure import memory
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import MxdeployError
from pipeline.targets.sizes import smallest_fit
from pipeline.checks.subject import CheckSubject, mib, rule

HEADROOM = 0.8  # warn above this fraction of the target's memory


@dataclass(frozen=True)
class ShapeEstimate:
    shapes: dict
    estimate: memory.MemoryEstimate | None
    problem: str = ""  # why there is no estimate
    hint: str = ""


def is_dynamic(shapes: dict) -> bool:
    return any(int(d) <= 0 for shape in shapes.values() for d in shape)


def estimates(subject: CheckSubject) -> list[ShapeEstimate]:
    """One estimate per static shape set (dynamic ones are the shapes rule's business)."""
    out = []
    for shapes in subject.shape_sets():
        if is_dynamic(shapes):
            continue
        try:
            out.append(ShapeEstimate(shapes, memory.estimate(subject.bundle, shapes)))
        except MxdeployError as exc:
            out.append(ShapeEstimate(shapes, None, exc.message, exc.hint))
    return out


def required_bytes(subject: CheckSubject) -> int | None:
    """Memory of every copy the accelerator holds (one per input shape); None when unknown."""
    found = estimates(subject)
    if not found or any(e.estimate is None for e in found):
        return None
    return sum(e.estimate.total_bytes for e in found)


def shape_text(shapes: dict) -> str:
    return ", ".join(f"{k}={'x'.join(str(d) for d in v)}" for k, v in shapes.items())


@rule("memory")
def check_memory(subject: CheckSubject) -> list[Diagnostic]:
    found = []
    capacity = subject.target.memory_bytes
    for item in estimates(subject):
        if item.estimate is None:
            found.append(Diagnostic("EI603", "error", f"cannot estimate memory at {shape_text(item.shapes)}: "
                                                      f"{item.problem}", hint=item.hint))
            continue
        if capacity is None:
            continue
        est = item.estimate
        needed = est.total_bytes
        detail = (f"{mib(needed)} (params {mib(est.params_bytes)} + inputs {mib(est.input_bytes)} + "
                  f"activations {mib(est.activation_bytes)}) at {shape_text(item.shapes)}")
        if needed > capacity:
            fit = smallest_fit(needed)
            where = f"the smallest size that fits is {fit}" if fit else "no accelerator size holds it"
            found.append(Diagnostic(
                "EI601", "error",
                f"the model needs {detail}, but '{subject.target.name}' has {mib(capacity)}: {where}",
                hint=f"deploy to {fit}" if fit else "reduce the batch size or the input shape, or quantize"))
        elif needed > HEADROOM * capacity:
            found.append(Diagnostic(
                "EI602", "warning",
                f"the model needs {detail}, {needed / capacity:.0%} of the {mib(capacity)} of "
                f"'{subject.target.name}': little headroom for the runtime's own workspace",
                hint=f"consider {smallest_fit(int(needed / HEADROOM)) or 'a smaller batch'}"))
    return found
