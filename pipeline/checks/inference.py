"""EI2xx inference only: nothing in the pipeline may train, and training-only graph parts go.

The accelerator contract is inference only: `bind(..., for_training=False)`, `grad_req='null'`,
no optimizer (the guide: "for training cannot be set to true with EIA context"). This tool
deploys for inference on every target, so these are errors whatever the target.

Graph parts that exist for training are warnings, each naming the optimize pass that removes
them. What is actually at risk, per part:
- a loss head (SoftmaxOutput, the regression outputs) with a label input: the forward ignores
  the label but an array must still be bound to it (the guide feeds a random one), and it is a
  second input the accelerator is sent on every call; `strip_training` replaces the head by
  its inference op.
- Dropout with mode='always': it drops activations at inference too, so outputs are random;
  `eliminate` removes it.
- BatchNorm without use_global_stats: MXNet uses the moving statistics whenever the graph runs
  with is_train=False, which is how every target here runs it, so outputs are right. The risk
  is only a caller that forwards with is_train=True (Module.forward defaults to the bind's
  for_training) and gets batch statistics; `fold_batchnorm` folds it into the convolution so
  the result cannot depend on the mode. Reported as info, not a warning, for that reason.
A warning whose pass is already planned in a later `optimize` stage (its `passes` list) is
reported as info saying so: the pipeline fixes it before deployment.
"""
from __future__ import annotations

from dataclasses import replace

from pipeline.accelerator.errors import TRAINING_MESSAGE
from pipeline.core.diagnostics import Diagnostic
from pipeline.model.labels import LOSS_HEADS
from pipeline.checks.subject import CheckSubject, name_list, rule


@rule("inference_requested")
def check_training_requested(subject: CheckSubject) -> list[Diagnostic]:
    """for_training, grad_req and optimizer of the planned deploy stages."""
    found = []
    for params in subject.deploy_params():
        if getattr(params, "for_training", False):
            found.append(Diagnostic(
                "EI201", "error", f"deploy asks for for_training=true: {TRAINING_MESSAGE}",
                hint="set for_training: false on the deploy stage (Module.bind defaults to True)"))
        grad_req = getattr(params, "grad_req", "null")
        if grad_req not in (None, "null"):
            found.append(Diagnostic(
                "EI202", "error", f"deploy asks for grad_req='{grad_req}'; inference binds with grad_req='null'",
                hint="set grad_req: null on the deploy stage"))
        optimizer = getattr(params, "optimizer", None)
        if optimizer:
            found.append(Diagnostic(
                "EI203", "error", f"deploy sets optimizer '{optimizer}'; training is not allowed, so an "
                                  "optimizer has nothing to do",
                hint="remove optimizer from the deploy stage"))
    return found


def planned_passes(subject: CheckSubject) -> set[str]:
    """Optimize passes planned in this pipeline (any `optimize` stage's `passes`)."""
    return {str(p) for params in subject.planned("optimize") for p in (getattr(params, "passes", None) or ())}


def _unless_planned(diag: Diagnostic, fix: str, planned: set[str]) -> Diagnostic:
    if diag.severity == "warning" and fix in planned:
        return replace(diag, severity="info", message=f"{diag.message}; the planned optimize pass {fix} removes it")
    return diag


@rule("inference_graph")
def check_training_graph(subject: CheckSubject) -> list[Diagnostic]:
    """Loss heads with labels, Dropout mode='always', BatchNorm in batch-statistics mode."""
    planned = planned_passes(subject)
    return [_unless_planned(d, fix, planned) for d, fix in _training_parts(subject)]


def _training_parts(subject: CheckSubject) -> list[tuple[Diagnostic, str]]:
    found = []
    nodes = subject.nodes
    for node in subject.op_nodes(*sorted(LOSS_HEADS)):
        if len(node["inputs"]) > 1 and nodes[node["inputs"][1][0]]["op"] == "null":
            label = nodes[node["inputs"][1][0]]["name"]
            found.append((Diagnostic(
                "EI204", "warning",
                f"training head {node['op']} '{node['name']}' takes the label input '{label}': inference must "
                "bind a dummy array to it",
                node=node["name"], hint="add the optimize pass strip_training"), "strip_training"))
    for node in subject.op_nodes("Dropout"):
        if subject.attrs(node).get("mode") == "always":
            found.append((Diagnostic(
                "EI205", "warning",
                f"Dropout '{node['name']}' has mode='always': it drops activations at inference too, so "
                "outputs are random",
                node=node["name"], hint="add the optimize pass eliminate"), "eliminate"))
    batch_stats = [n["name"] for n in subject.op_nodes("BatchNorm")
                   if str(subject.attrs(n).get("use_global_stats", "False")).lower() not in ("true", "1")]
    if batch_stats:
        found.append((Diagnostic(
            "EI206", "info",
            f"{len(batch_stats)} BatchNorm node(s) without use_global_stats ({name_list(batch_stats)}) use "
            "their moving statistics only when run with is_train=False (as every target here runs them); "
            "a caller forwarding with is_train=True gets batch statistics",
            node=batch_stats[0], hint="add the optimize pass fold_batchnorm"), "fold_batchnorm"))
    return found
