"""A worker's memory: give back what a job freed, and read what the processes hold.

Measured (issue #15), inside the real ``wenshu worker`` processes (``worker/memory_trace.py``):
Python objects, pymalloc's arenas and glibc's bytes in use stayed flat over 1 000 renders, but each
render left ~140 objects in reference cycles — python-docx's package, its parts and relationships,
holding the parsed lxml documents of the template (~1.5 MB of C heap for the annual report). Reference
counting never frees a cycle; the collector did, whenever its thresholds next fired, which was after
the job's ``malloc_trim`` — so the heap kept that freed memory resident, and the worker's RSS wandered
by tens of MB from one job to the next. :func:`release_job_memory` runs after each whole job: collect
the cycles first, then trim. :func:`freeze_startup_objects` moves what start-up built (modules,
settings, the engine) out of the collector's way, so that collection costs milliseconds, not the
~200 ms a full pass over every object took.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from pathlib import Path

log = logging.getLogger("wenshu.worker")

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Return the C heap's free pages to the OS (a few milliseconds; never raises)."""
    if _TRIM is not None:
        try:
            _TRIM(0)
        except Exception:  # noqa: BLE001 - best effort, a job must not fail on it
            log.debug("malloc_trim failed", exc_info=True)


def freeze_startup_objects() -> None:
    """Collect once, then exempt every object alive now from later collections (``gc.freeze``).

    Call once, when the worker is ready and before its first job: what exists then lives as long
    as the process, so scanning it after every job would only cost time. Only once: an object
    frozen later (a cache entry) that then became cyclic garbage would never be freed.
    """
    gc.collect()
    gc.freeze()


def release_job_memory() -> None:
    """After a job: free the job's reference cycles now, then give the freed pages back."""
    gc.collect()
    release_freed_memory()


def _proc_table() -> tuple[dict[int, list[int]], dict[int, int]]:
    """One pass over /proc: children by parent pid, and resident bytes by pid."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue   # the process ended while we looked
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_SIZE
    return children, rss


def memory_samples(pids: list[int]) -> dict[int, dict[str, int]]:
    """Resident bytes of each process and of all its descendants (its LibreOffice), from /proc.

    One walk of /proc for any number of processes: the worker reports its own figures to the
    metrics, ``bench/soak.py`` those of a whole pool.

    Returns:
        For each pid: ``{"worker": its own RSS, "libreoffice": the sum of its descendants' RSS}``.
    """
    children, rss = _proc_table()
    return {pid: {"worker": rss.get(pid, 0), "libreoffice": sum(rss.get(p, 0) for p in _below(children, pid))}
            for pid in pids}


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: its children, theirs, and so on (one walk of /proc)."""
    return _below(_proc_table()[0], pid)


def _below(children: dict[int, list[int]], pid: int) -> list[int]:
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def memory_sample(pid: int) -> dict[str, int]:
    """Resident bytes of this worker process and of all its descendants (LibreOffice), from /proc."""
    return memory_samples([pid])[pid]
