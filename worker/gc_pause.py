"""No full garbage collection while a fill runs: Python's cyclic collector walks the whole heap each time.

A long table's fill allocates hundreds of thousands of objects that live to its end (the context's
rows, the parsed document's proxies), and CPython answers with full collections, each walking every
tracked object of the process, the request's data included. Measured on the 20 000-row report
(bench/fill.py's template; CPU seconds, best of 6): 1.18 s with the default thresholds, 0.69 s with
full collections held off, and only ~400 objects of cyclic garbage collected afterwards. Young
collections still run, so cycles made and dropped inside the fill are still freed; the render's
CPU and memory limits are unchanged.

Thresholds are process-wide, so overlapping fills (threads) share one pause: the first in sets
it, the last out restores what was there.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

NEVER = 2**31 - 1
_lock = threading.Lock()
_holders = 0
_saved: tuple[int, ...] = ()


@contextmanager
def full_collections_paused() -> Iterator[None]:
    """Young-generation collections only, for the duration of the block."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(_saved[0], _saved[1], NEVER)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)
