"""What the host CPU can do, read from /proc/cpuinfo: the probe behind every bf16 decision.

bf16 is only worth deploying where the CPU computes it natively (AVX512_BF16 or AMX-BF16);
elsewhere oneDNN emulates it, slower than fp32, and OpenVINO refuses it. Asking here, once,
lets the quantize stage and `pipeline tune` refuse or skip bf16 with a coded reason instead
of silently serving fp32.
"""
from __future__ import annotations

import functools
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str]:
    """The flags of the first processor in /proc/cpuinfo (empty where there is none)."""
    try:
        text = CPUINFO.read_text("utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    try:
        text = CPUINFO.read_text("utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


# what decides a host-dependent result (latency, a precision choice): the vector and
# reduced-precision units, not every flag (a microcode or mitigation flag does not matter)
HOST_FLAG_PREFIXES = ("avx", "amx", "sse", "fma", "f16c", "vnni")


def host_fingerprint(flags: frozenset[str] | None = None, model: str | None = None) -> dict:
    """The host facts a cached host-dependent stage result is only valid for (pipeline/run/cache.py)."""
    flags = cpu_flags() if flags is None else flags
    return {"cpu": cpu_model() if model is None else model,
            "flags": sorted(f for f in flags if f.startswith(HOST_FLAG_PREFIXES))}


def has_bf16(flags: frozenset[str] | None = None) -> bool:
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_FLAGS)


def precision_flags(flags: frozenset[str] | None = None) -> dict[str, bool]:
    """The flags that decide reduced-precision speed, for reports and BENCHMARKS.md."""
    flags = cpu_flags() if flags is None else flags
    return {"avx512_bf16": "avx512_bf16" in flags, "amx": any(f.startswith("amx") for f in flags),
            "vnni": any(f in flags for f in INT8_FLAGS)}
