"""Child processes never outlive the process that started them.

A cell worker (pipeline/run/worker.py) and a tune candidate (pipeline/run/child.py) each watch
their parent: when it is gone (the child is re-parented), the child kills its own process
group, so a killed `pipeline run` leaves no MXNet process behind. Apart from the worker so the
candidate runner does not import the worker's entry point (which registers the stages).
"""
from __future__ import annotations

import os
import signal
import threading
import time


def die_with_parent(parent: int) -> None:
    """A thread that kills this process group once the parent is gone (we get re-parented)."""

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
