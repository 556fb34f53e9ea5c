"""EI3xx contexts: one accelerator per host, no GPU, input arrays on the CPU.

EI301-EI304 are the accelerator's rules. Any other deployment is served on one device from the
CPU as well, which the deploy stage enforces (DEP102/DEP103): EI305/EI306 say so before it.
The messages are the ones MXNet's Elastic Inference build raised, so a user who met them at
run time recognises them here. Contexts are read from the planned deploy stages: `contexts`
(strings like "cpu(0)", "gpu(0)", "eia(0)"), `group2ctxs` (group -> context string), and
`input_context` (where input arrays are allocated, on any planned stage that declares it),
each read by `pipeline.targets.contexts`, the reader the deploy stage uses too.
"""
from __future__ import annotations

from pipeline.accelerator.errors import MAX_ONE_DEVICE
from pipeline.core.diagnostics import Diagnostic
from pipeline.checks.subject import CheckSubject, rule
from pipeline.targets.contexts import NO_CUDA, ONE_DEVICE, PARALLELISM, device_type

GUIDE_NO_GPU = "the Elastic Inference build of MXNet is not compiled with CUDA: any GPU context throws an error"
GUIDE_ALLOC = "src/storage/storage.cc:145: Unimplemented device 6"


@rule("contexts")
def check_contexts(subject: CheckSubject) -> list[Diagnostic]:
    accelerators = subject.accelerator_names()
    if not accelerators:
        return _host_contexts(subject)
    target = accelerators[0]
    found = []
    for params in subject.deploy_params():
        contexts = [str(c) for c in (getattr(params, "contexts", None) or [])]
        gpus = [c for c in contexts if device_type(c) == "gpu"]
        if gpus:
            found.append(Diagnostic(
                "EI301", "error", f"GPU context {', '.join(gpus)} with accelerator target '{target}': {GUIDE_NO_GPU}",
                hint="bind with the accelerator context only and keep NDArrays on mx.cpu()"))
        if len(contexts) > 1:
            found.append(Diagnostic(
                "EI302", "error", f"{len(contexts)} contexts ({', '.join(contexts)}) with accelerator target "
                                  f"'{target}': {MAX_ONE_DEVICE} (no data parallelism)",
                hint="give exactly one context"))
        group2ctxs = getattr(params, "group2ctxs", None) or {}
        if group2ctxs:
            groups = ", ".join(f"{k}: {v}" for k, v in group2ctxs.items())
            found.append(Diagnostic(
                "EI303", "error", f"group2ctxs ({groups}) with accelerator target '{target}': "
                                  f"{MAX_ONE_DEVICE} (no model parallelism)",
                hint="remove group2ctxs"))
    for stage_name, params in subject.planned_stages:
        where = getattr(params, "input_context", None)
        if where and device_type(where) == "eia":
            found.append(Diagnostic(
                "EI304", "error", f"stage '{stage_name}' allocates input arrays on the accelerator "
                                  f"({where}): MXNet fails with '{GUIDE_ALLOC}'",
                hint="allocate input arrays on mx.cpu(); they are moved to the accelerator automatically"))
    return found


def _host_contexts(subject: CheckSubject) -> list[Diagnostic]:
    """A deployment that is not an accelerator's: one device, no GPU, as deploy will demand."""
    found = []
    for params in subject.deploy_params():
        contexts = [str(c) for c in (getattr(params, "contexts", None) or [])]
        group2ctxs = getattr(params, "group2ctxs", None) or {}
        gpus = [c for c in contexts + [str(v) for v in group2ctxs.values()] if device_type(c) == "gpu"]
        if gpus:
            found.append(Diagnostic("EI306", "error", f"GPU context {gpus[0]} is not supported: {NO_CUDA}",
                                    hint="use cpu(0) as the context"))
        if len(contexts) > 1 or group2ctxs:
            what = f"group2ctxs {dict(group2ctxs)}" if group2ctxs else f"{len(contexts)} contexts {contexts}"
            found.append(Diagnostic("EI305", "error", f"{ONE_DEVICE}: {what} {PARALLELISM}",
                                    hint="bind to a single context, e.g. cpu(0), with no group2ctxs"))
    return found
