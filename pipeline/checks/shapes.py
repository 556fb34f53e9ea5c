"""EI7xx shapes: every new input shape loads another copy of the model on the accelerator.

The guide: calling reshape, or forwarding with another input shape, loads the model again on
the accelerator, and the old copy is not freed until the session ends, so a model that serves
several shapes eventually runs out of memory. A plain target shares params between shapes,
so these rules are about accelerator targets.
"""
from __future__ import annotations

from pipeline.core.diagnostics import Diagnostic
from pipeline.targets.sizes import smallest_fit
from pipeline.checks.memory_fit import estimates, is_dynamic, shape_text
from pipeline.checks.subject import CheckSubject, mib, rule


@rule("shapes")
def check_shapes(subject: CheckSubject) -> list[Diagnostic]:
    if not subject.target.is_accelerator:
        return []
    found = []
    target = subject.target.name
    for spec in subject.bundle.inputs:
        if spec.dynamic:
            found.append(Diagnostic(
                "EI704", "error",
                f"input '{spec.name}' declares dynamic axes {list(spec.dynamic)}: '{target}' loads another copy of "
                "the model for every input shape, so it serves only static shapes (deploy refuses it: TGT009)",
                node=spec.name, hint="drop `dynamic` for this target, or serve the dynamic model on onnxruntime, "
                                     "openvino or cpu"))
    for shapes in subject.shape_sets():
        if is_dynamic(shapes):
            names = [k for k, v in shapes.items() if any(int(d) <= 0 for d in v)]
            found.append(Diagnostic(
                "EI702", "warning",
                f"input(s) {', '.join(names)} have a dynamic dimension ({shape_text(shapes)}): every distinct "
                f"shape seen at run time loads another copy of the model on '{target}'",
                node=names[0], hint="declare fixed input shapes (pad or bucket inputs to them)"))
    static = [e for e in estimates(subject) if e.estimate is not None]
    if len(static) < 2:
        return found
    varying = sorted({k for e in static for k, v in e.shapes.items() if v != static[0].shapes[k]})
    total = sum(e.estimate.total_bytes for e in static)
    shapes_list = "; ".join(shape_text(e.shapes) for e in static)
    found.append(Diagnostic(
        "EI701", "warning",
        f"{len(static)} input shapes ({shapes_list}): each loads another copy of the model on '{target}', "
        f"not freed until the session ends; all copies together need {mib(total)}",
        node=varying[0] if varying else "", hint="serve one fixed shape (pad or bucket inputs to it)"))
    capacity = subject.target.memory_bytes
    if capacity is not None and total > capacity:
        fit = smallest_fit(total)
        found.append(Diagnostic(
            "EI703", "error",
            f"the {len(static)} copies together need {mib(total)}, but '{target}' has {mib(capacity)}: the "
            "session runs out of memory once enough shapes have been seen"
            + (f"; the smallest size that holds all copies is {fit}" if fit else "; no accelerator size holds them all"),
            node=varying[0] if varying else "", hint="serve fewer shapes" + (f" or deploy to {fit}" if fit else "")))
    return found
