"""The converter registry: one plain function per (domain, op_type, since_version).

Converters register by stacking decorators, `@converter("Clip", since=6)` and
`@converter("Clip", since=11)`, like onnx2torch's `add_converter`. Lookup takes the newest
`since_version` that is <= the model's opset for that domain; when every registered version is
newer than the model's opset we say so and list them, rather than wrapping around to the
newest handler as TVM's `_impl_v*` scan did. Registering a key twice is a bug and raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline.core.errors import InternalError

DEFAULT_DOMAIN = "ai.onnx"


@dataclass(frozen=True)
class OnnxNode:
    """The parts of a NodeProto a converter reads; attributes already decoded to Python values."""

    op_type: str
    domain: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How errors name the node: its name, or its first output when it has none."""
        return self.name or (self.outputs[0] if self.outputs else self.op_type)


@dataclass(frozen=True)
class ConverterKey:
    domain: str
    op_type: str
    since_version: int


Converter = Callable[..., Any]
_CONVERTERS: dict[ConverterKey, Converter] = {}


def normalize_domain(domain: str) -> str:
    return DEFAULT_DOMAIN if domain in ("", DEFAULT_DOMAIN) else domain


def converter(op_type: str, since: int, domain: str = DEFAULT_DOMAIN):
    """Register the decorated function for `op_type` from opset `since` on; stackable."""
    key = ConverterKey(normalize_domain(domain), op_type, since)

    def wrap(fn: Converter) -> Converter:
        if key in _CONVERTERS:
            raise InternalError(f"converter {key} is registered twice "
                                f"({_CONVERTERS[key].__module__} and {fn.__module__})")
        _CONVERTERS[key] = fn
        return fn

    return wrap


def registered_versions(op_type: str, domain: str = DEFAULT_DOMAIN) -> list[int]:
    domain = normalize_domain(domain)
    return sorted(k.since_version for k in _CONVERTERS if k.domain == domain and k.op_type == op_type)


def lookup(op_type: str, domain: str, opset: int) -> tuple[Converter | None, str]:
    """(converter, "") for the newest since_version <= opset, or (None, why not)."""
    versions = registered_versions(op_type, domain)
    if not versions:
        return None, "no converter"
    usable = [v for v in versions if v <= opset]
    if not usable:
        return None, f"converters exist only for opset {', '.join(map(str, versions))}"
    return _CONVERTERS[ConverterKey(normalize_domain(domain), op_type, usable[-1])], ""


def all_keys() -> list[ConverterKey]:
    return sorted(_CONVERTERS, key=lambda k: (k.domain, k.op_type, k.since_version))
