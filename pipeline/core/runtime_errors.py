"""Reading MXNet's native error text down to the one line a user needs.

MXNet 1.9.1 wraps native failures as `MXNetError` whose text starts with a Python-style
"Traceback (most recent call last):" and file/line frames from the C++ sources; the actual
reason is the `MXNetError: ...` line or a `Check failed: ...` line near the end. Coded errors
quote that line rather than the frames.
"""
from __future__ import annotations


def first_error_line(exc: BaseException) -> str:
    """The reason line of an (MXNet) exception, without the native stack frames."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for line in lines:
        if line.startswith("MXNetError:"):
            return line[len("MXNetError:"):].strip()
    for line in lines:
        if "Check failed" in line or "Error" in line.split(":")[0]:
            return line
    frames = ("Traceback", "File ", "[bt]", "Stack trace")
    rest = [ln for ln in lines if not ln.startswith(frames)]
    return (rest or lines or [type(exc).__name__])[0]
