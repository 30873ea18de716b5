"""Where does a worker's memory go? A diagnostic hook, off unless ``WENSHU_MEMORY_TRACE`` names a file.

Issue #15: the real ``wenshu worker`` processes grew ~90 KB per render in the soak while the same
job run in-process stayed flat, so the question had to be asked inside the real process. With the
setting on, every ``WENSHU_MEMORY_TRACE_EVERY`` jobs (and after the 10th) the worker appends one
JSON line to ``<path>.<pid>``: RSS and ``/proc/self/smaps_rollup``; the resident brk heap vs. other
anonymous memory, before and after a ``malloc_trim``; glibc's ``mallinfo2`` (C heap in use vs. free
but kept); pymalloc's arenas; live threads; Python objects by type (growth since the first line);
with ``WENSHU_MEMORY_TRACE_PYTHON``, tracemalloc's biggest growths. For diagnosis, not production.

What it showed for #15: objects, arenas and bytes in use flat; only the brk heap's resident free
memory moved — the cycles each fill leaves, freed after the job's trim (see worker/memory.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from core.settings import Settings


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mallinfo2() -> dict[str, int]:
    """glibc's view of its heap: ``uordblks`` bytes in use, ``fordblks`` free but not returned."""
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {name: getattr(info, name) for name, _ in _MallInfo2._fields_}


def _anonymous_split() -> dict[str, int]:
    """Resident KB of the brk heap (glibc's main arena) vs. every other anonymous mapping
    (pymalloc's arenas, thread arenas, glibc's mmapped chunks, other libraries' mmaps)."""
    out = {"heap": 0, "other_anon": 0}
    name = None
    try:
        for line in Path("/proc/self/smaps").read_text().splitlines():
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:
                name = head[5] if len(head) > 5 else ""
            elif head[0] == "Rss:":
                if name == "[heap]":
                    out["heap"] += int(head[1])
                elif name == "":
                    out["other_anon"] += int(head[1])
    except OSError:
        pass
    return out


def _trimmed_split() -> dict[str, int]:
    from .memory import release_freed_memory
    release_freed_memory()
    return _anonymous_split()


def _pymalloc_arenas() -> int:
    """Arenas pymalloc holds now (from ``sys._debugmallocstats``, which only prints to stderr)."""
    import sys
    import tempfile
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        for line in tmp.read().decode(errors="replace").splitlines():
            if line.startswith("# arenas allocated current"):
                return int(line.split("=")[1].replace(",", ""))
    return -1


def _proc_kb(path: str, names: tuple[str, ...]) -> dict[str, int]:
    out = {}
    try:
        for line in Path(path).read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in names:
                out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


class MemoryTrace:
    """Appends a memory report of this process to a file every ``every`` jobs."""

    def __init__(self, path: str, every: int = 100, python: bool = False) -> None:
        self.path, self.every = Path(path), max(1, every)
        self.jobs = 0
        self.types0: Counter[str] | None = None
        self.snapshot0: tracemalloc.Snapshot | None = None
        if python:  # off by default: its own traces live in the C heap it measures
            tracemalloc.start(10)

    @classmethod
    def from_settings(cls, settings: Settings) -> MemoryTrace | None:
        """The trace the settings ask for, or None (the default: no cost at all)."""
        if not settings.memory_trace:
            return None
        return cls(f"{settings.memory_trace}.{os.getpid()}", settings.memory_trace_every, settings.memory_trace_python)

    def job_done(self) -> None:
        self.jobs += 1
        if self.jobs % self.every == 0 or self.jobs == 10:
            self.write()

    def write(self) -> None:
        gc.collect()
        split = _anonymous_split()
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
        tracing = tracemalloc.is_tracing()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]) if tracing else None
        report: dict[str, Any] = {
            "jobs": self.jobs, "time": time.time(),
            "status": _proc_kb("/proc/self/status", ("VmRSS", "RssAnon", "RssFile", "VmData")),
            "smaps": _proc_kb("/proc/self/smaps_rollup", ("Rss", "Anonymous", "Private_Dirty", "Shared_Clean")),
            "split": split, "split_after_trim": _trimmed_split(), "pymalloc_arenas": _pymalloc_arenas(),
            "mallinfo2": _mallinfo2(), "threads": threading.active_count(),
            "traced": tracemalloc.get_traced_memory()[0] if tracing else 0, "objects": sum(types.values()),
        }
        if self.types0 is None:
            self.types0, self.snapshot0 = types, snapshot
        else:
            grown = Counter(types)
            grown.subtract(self.types0)
            report["types_grown"] = grown.most_common(15)
            if snapshot is not None and self.snapshot0 is not None:
                stats = snapshot.compare_to(self.snapshot0, "traceback")
                report["traced_grown"] = [
                    {"size": s.size_diff, "count": s.count_diff, "where": s.traceback.format()[-6:]}
                    for s in stats[:8]]
        with self.path.open("a") as out:
            out.write(json.dumps(report) + "\n")
