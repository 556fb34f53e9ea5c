"""Elastic Inference accelerator sizes and their fixed memory."""
from __future__ import annotations

GiB = 1 << 30

ACCELERATOR_SIZES: dict[str, int] = {
    "eia1.medium": 1 * GiB,
    "eia1.large": 2 * GiB,
    "eia1.xlarge": 4 * GiB,
    "eia2.medium": 2 * GiB,
    "eia2.large": 4 * GiB,
    "eia2.xlarge": 8 * GiB,
}


def smallest_fit(required_bytes: int, family: str | None = None) -> str | None:
    """The accelerator size with the least memory that holds `required_bytes` (eia2 wins ties)."""
    fits = [(mem, -int(name.startswith("eia2")), name) for name, mem in ACCELERATOR_SIZES.items()
            if mem >= required_bytes and (family is None or name.startswith(family))]
    return min(fits)[2] if fits else None
