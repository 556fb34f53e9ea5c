"""What every bench script shares: the machine's description and BENCHMARKS.md sections.

Each script owns one `## ...` section of BENCHMARKS.md and replaces only that one, so
benches run at different times sit side by side in one file.
"""
from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BENCHMARKS = ROOT / "BENCHMARKS.md"
_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")


def cpu_description() -> str:
    """'MODEL (N cores; flags: ...)', the flags that decide which kernels run (bf16, VNNI, AMX)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    present = set(flags.group(1).split()) if flags else set()
    shown = " ".join(f for f in _FLAGS if f in present) or "none of avx2/avx512/amx"
    name = model.group(1).strip() if model else (platform.processor() or "unknown CPU")
    return f"{name} ({os.cpu_count()} cores; flags: {shown})"


def load_average() -> str:
    """The 1-minute load average: on a shared machine it says how far to trust the numbers."""
    path = Path("/proc/loadavg")
    return path.read_text().split()[0] if path.exists() else "unknown"


def write_section(heading: str, body: str, path: Path = BENCHMARKS) -> Path:
    """Replace (or append) the section under `heading`, leaving the other sections as they are."""
    from pipeline.core import atomic

    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n"
    section = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    atomic.write_text(path, text)
    return path


def timed_blocks(sessions: dict, feed, rounds: int, block: int = 10, warmup: int = 2) -> dict[str, list[float]]:
    """{name: [one block's median ms per round]}: each session runs alone, a block at a time.

    Interleaving single calls (A B C A B C ...) lets one session's worker threads, still spinning
    after its call, steal the 2 cores from the next: on this machine identical OpenVINO IRs then
    differed by 0.6x to 1.4x. Here each round runs every session's block back to back after a
    short warm-up, and the order rotates each round (and reverses on odd rounds), so drift of the
    machine falls on every session alike and per-round ratios pair sessions measured together.
    """
    import time

    import numpy as np

    names = list(sessions)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order[::-1] if r % 2 else order:
            run = sessions[name]
            for _ in range(warmup):
                run(feed)
            times = []
            for _ in range(block):
                started = time.perf_counter()
                run(feed)
                times.append((time.perf_counter() - started) * 1e3)
            medians[name].append(float(np.median(times)))
    return medians


def paired_ratio(ours: list[float], peer: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """(median, low, high) of ours/peer over rounds, with a 95% bootstrap interval of the median."""
    import numpy as np

    ratios = np.asarray(ours) / np.asarray(peer)
    picks = np.random.default_rng(0).integers(0, len(ratios), size=(resamples, len(ratios)))
    boot = np.median(ratios[picks], axis=1)
    return float(np.median(ratios)), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))
