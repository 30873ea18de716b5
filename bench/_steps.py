"""What the step-by-step profiles (job_profile.py, api_profile.py) share: wall and CPU time per
wrapped function, and a private Redis to run against."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from _stack import free_port


class StepTimes:
    """Milliseconds of wall and CPU time per labelled step, each call appended."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)

    def wrap(self, owner, name: str, label: str) -> None:
        """Replace ``owner.name`` by a wrapper that records each call's times under ``label``."""
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.wall[label].append((time.perf_counter() - t0) * 1000)
                self.cpu[label].append((time.process_time() - c0) * 1000)

        setattr(owner, name, wrapper)

    def clear(self) -> None:
        self.wall.clear()
        self.cpu.clear()


@contextmanager
def private_redis() -> Iterator[int]:
    """A throw-away redis-server on a free loopback port (no persistence); yields the port."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", tempfile.mkdtemp(prefix="wenshu-bench-redis-")],
                            stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
