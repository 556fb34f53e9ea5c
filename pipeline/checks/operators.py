"""EI5xx operator support: every op the target cannot run, listed at once.

A target declares its op set (`Target.supported_ops()`, None = every registered MXNet op).
On a plain target an unsupported op is an error. An accelerator partitions the graph instead:
supported ops form subgraphs on the accelerator, the rest run on the host CPU, and every
tensor that crosses between the two is a transfer on each call. So for accelerators the
fallback is a warning that says which ops fall back, how many accelerator subgraphs the graph
splits into and how many boundary tensors that makes.
"""
from __future__ import annotations

from collections import defaultdict

from pipeline.core.diagnostics import Diagnostic
from pipeline.checks.subject import CheckSubject, name_list, rule


def unsupported_ops(subject: CheckSubject) -> dict[str, list[str]]:
    """op -> node names the target does not run (empty when it runs every op)."""
    supported = subject.target.supported_ops()
    if supported is None:
        return {}
    found: dict[str, list[str]] = defaultdict(list)
    for node in subject.op_nodes():
        if node["op"] not in supported:
            found[node["op"]].append(node["name"])
    return dict(sorted(found.items()))


def partition_counts(subject: CheckSubject, cpu_nodes: set[str]) -> tuple[int, int]:
    """(accelerator subgraphs, boundary tensors) when `cpu_nodes` run on the CPU.

    Subgraphs are the connected groups of accelerated op nodes; a boundary tensor is an op
    output consumed on the other device (counted once per tensor). Graph inputs and params are
    not counted: they reach the accelerator on every target anyway.
    """
    nodes = subject.nodes
    on_acc = {i: n["op"] != "null" and n["name"] not in cpu_nodes for i, n in enumerate(nodes)}
    parent = {i: i for i, acc in on_acc.items() if acc}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    crossing = set()
    for i, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        for src, idx, *_ in node["inputs"]:
            if nodes[src]["op"] == "null":
                continue
            if on_acc[src] != on_acc[i]:
                crossing.add((src, idx))
            elif on_acc[i]:
                parent[find(src)] = find(i)
    subgraphs = len({find(i) for i in parent})
    return subgraphs, len(crossing)


@rule("operators")
def check_operators(subject: CheckSubject) -> list[Diagnostic]:
    missing = unsupported_ops(subject)
    if not missing:
        return []
    target = subject.target.name
    if not subject.target.is_accelerator:
        return [Diagnostic(
            "EI501", "error",
            f"op {op} is not supported by target '{target}' ({len(names)} node(s): {name_list(names)})",
            node=names[0], hint="pick a target that runs it, or replace the op before export")
            for op, names in missing.items()]
    cpu_nodes = {n for names in missing.values() for n in names}
    total = len(subject.op_nodes())
    if len(cpu_nodes) == total:
        return [Diagnostic(
            "EI503", "warning",
            f"none of the {total} op node(s) runs on accelerator '{target}' "
            f"({', '.join(f'{op} x{len(names)}' for op, names in missing.items())}): everything runs on the CPU",
            node=next(iter(missing.values()))[0], hint="deploy to cpu instead, or replace the ops")]
    subgraphs, boundary = partition_counts(subject, cpu_nodes)
    listing = "; ".join(f"{op} x{len(names)} ({name_list(names)})" for op, names in missing.items())
    return [Diagnostic(
        "EI502", "warning",
        f"{len(cpu_nodes)} of {total} op node(s) fall back to the CPU on '{target}': {listing}; the graph "
        f"splits into {subgraphs} accelerator subgraph(s) with {boundary} boundary tensor(s) copied "
        "between CPU and accelerator on every call",
        node=next(iter(missing.values()))[0],
        hint="replace the ops with supported ones to keep the graph on the accelerator")]
