"""Pausing Python's cyclic garbage collector while history is loaded.

A cold scan or a warm start allocates millions of small, acyclic objects (records, calls,
strings). The cyclic collector would traverse them again at every older-generation pass: a
quarter of a cold scan's time on a 1 GiB history. Reference counting still frees everything
as usual; only cycle detection waits until the load is over, and then runs as before (a
long-running view pays one full pass after loading, not dozens during it).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    lock = threading.Lock()
    depth = 0
    was_enabled = True


@contextmanager
def paused() -> Iterator[None]:
    """Run a bulk load with the collector off; nested and concurrent uses share one pause,
    and the collector comes back as it was when the last one ends."""
    p = _Pause
    with p.lock:
        if p.depth == 0:
            p.was_enabled = gc.isenabled()
            gc.disable()
        p.depth += 1
    try:
        yield
    finally:
        with p.lock:
            p.depth -= 1
            if p.depth == 0 and p.was_enabled:
                gc.enable()
