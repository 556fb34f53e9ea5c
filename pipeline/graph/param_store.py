"""ParamStore: the arg and aux params that travel beside a graph through the passes.

Immutable by convention: passes build a new store with `replace` instead of editing the
dicts, so the store a guard compares against is never changed behind its back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ParamStore:
    arg: dict[str, np.ndarray] = field(default_factory=dict)
    aux: dict[str, np.ndarray] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.arg or name in self.aux

    def get(self, name: str) -> np.ndarray:
        return self.arg[name] if name in self.arg else self.aux[name]

    def names(self) -> set[str]:
        return set(self.arg) | set(self.aux)

    def replace(self, *, arg: dict | None = None, aux: dict | None = None, drop=()) -> "ParamStore":
        """A new store: `arg`/`aux` entries added or overwritten, names in `drop` removed."""
        drop = set(drop)
        new_arg = {k: v for k, v in self.arg.items() if k not in drop}
        new_aux = {k: v for k, v in self.aux.items() if k not in drop}
        new_arg.update(arg or {})
        new_aux.update(aux or {})
        return ParamStore(new_arg, new_aux)

    def restrict(self, names) -> "ParamStore":
        """Only the params whose names are in `names` (the graph's variables)."""
        names = set(names)
        return ParamStore({k: v for k, v in self.arg.items() if k in names},
                          {k: v for k, v in self.aux.items() if k in names})

    def nbytes(self) -> int:
        return int(sum(v.nbytes for v in self.arg.values()) + sum(v.nbytes for v in self.aux.values()))
