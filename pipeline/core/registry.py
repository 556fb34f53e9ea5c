"""Named registries for stages, targets, passes, rules and converters.

A registry refuses a second registration under the same key (a silent overwrite would let
import order decide behaviour) and answers an unknown key with the close matches.
"""
from __future__ import annotations

import difflib
from typing import Generic, Iterator, TypeVar

from pipeline.core.errors import InternalError, UnknownNameError

T = TypeVar("T")


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean X?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry(Generic[T]):
    """A name -> object mapping filled at import time and read-only afterwards."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        if name in self._items:
            raise InternalError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = obj
        return obj

    def decorator(self, name: str):
        """`@REGISTRY.decorator("name")` registers the decorated object under name."""

        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._items)}",
                hint=f"known {self.kind}s: {known}",
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())
