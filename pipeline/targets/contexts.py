"""Context strings as a migrated script wrote them ("cpu(0)", "eia", "gpu(1)"): the one reader.

The deploy stage refuses a string this cannot read (DEP106) and the contexts check rules
(EI3xx) classify them; both read through here so a string means the same to each. MXNet's
own spelling is accepted: any case, spaces, and `cpu()` for device 0, as `mx.cpu()` is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DEVICES = ("cpu", "gpu", "eia")
# What the deploy stage refuses on every target (DEP102/DEP103) and the contexts check reports
# ahead of it (EI305/EI306): one wording, so check's finding reads as deploy's refusal would.
ONE_DEVICE = "inference is served on one device"
PARALLELISM = "asks for data or model parallelism, which is for training"
NO_CUDA = "the deployment is not compiled with CUDA, and its inputs live on the CPU"
_CONTEXT = re.compile(r"^\s*([a-z]+)\s*(?:\(\s*(\d*)\s*\))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Context:
    device: str  # one of DEVICES
    device_id: int = 0


def parse_context(text: str) -> Context | None:
    """`DEVICE` or `DEVICE(N)` with DEVICE one of DEVICES; None when the string is not one."""
    match = _CONTEXT.match(str(text))
    if not match or match.group(1).lower() not in DEVICES:
        return None
    return Context(match.group(1).lower(), int(match.group(2) or 0))


def device_type(text: str) -> str:
    """'gpu(0)' -> 'gpu'; a string that is not a context comes back lowercased (it matches no device)."""
    context = parse_context(text)
    return context.device if context else str(text).lower()
