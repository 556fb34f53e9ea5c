"""Latency of a deployed session: percentiles of timed forwards after untimed warm-up ones.

One definition for verify's report and tune's choice, so the two never disagree on what
"p50" means.
"""
from __future__ import annotations

import time

import numpy as np


def latency_ms(session, feed: dict[str, np.ndarray], *, runs: int, warmup: int) -> dict[str, float]:
    """{"p50", "p90", "p99"} in milliseconds over `runs` forwards after `warmup` untimed ones."""
    for _ in range(warmup):
        session.infer(feed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.infer(feed)
        times.append((time.perf_counter() - started) * 1e3)
    p50, p90, p99 = np.percentile(times, [50, 90, 99])
    return {"p50": round(float(p50), 4), "p90": round(float(p90), 4), "p99": round(float(p99), 4)}
