"""Worker processes: each an RQ worker that owns one supervised LibreOffice.

We use RQ's ``SimpleWorker`` (no fork per job) because the LibreOffice instance, its conversion
count and its restarts belong to the process and must survive from one job to the next.
``run_pool`` starts N such processes and restarts any that die (a crash, a kill -9), so the
configured concurrency holds; SIGTERM/SIGINT are passed on and each worker finishes its job.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

from redis import Redis
from rq import Queue
from rq.worker import SimpleWorker

from .config import Settings
from .jobs import Engine
from .store import Keys

log = logging.getLogger("wenshu.worker")

ALIVE_TTL_SECONDS = 15
"""Seconds a worker's "LibreOffice alive" mark lives unless refreshed (readiness)."""
ALIVE_REFRESH_SECONDS = 5
"""Seconds between refreshes of that mark."""


def alive_key(keys: Keys, worker_name: str) -> str:
    return f"{keys.prefix}:lo-alive:{worker_name}"


class WenshuWorker(SimpleWorker):
    """An RQ worker whose jobs share this process's :class:`Engine`."""

    def __init__(self, *args, engine: Engine, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.engine = engine


def _mark_alive(engine: Engine, redis: Redis, name: str, stop: threading.Event) -> None:
    """Tell the API (``/readyz``) that this worker has a live LibreOffice."""
    key = alive_key(engine.keys, name)
    while not stop.is_set():
        process = engine.pipeline.supervisor.process
        try:
            if process is not None and process.proc is not None and process.proc.poll() is None:
                redis.set(key, os.getpid(), ex=ALIVE_TTL_SECONDS)
        except Exception:  # noqa: BLE001 - Redis may be restarting; try again next round
            pass
        stop.wait(ALIVE_REFRESH_SECONDS)
    try:
        redis.delete(key)
    except Exception:  # noqa: BLE001
        pass


def run_one(settings: Settings) -> None:
    """Run one worker process until told to stop."""
    redis = Redis.from_url(settings.redis_url)
    engine = Engine(settings, redis)
    engine.install()
    engine.pipeline.supervisor.start()  # warm before the first job; readiness depends on it
    queue = Queue(settings.queue_name, connection=redis)
    worker = WenshuWorker([queue], connection=redis, engine=engine)
    stop = threading.Event()
    beat = threading.Thread(target=_mark_alive, args=(engine, redis, worker.name, stop), daemon=True)
    beat.start()
    try:
        worker.work(with_scheduler=False, logging_level=settings.log_level)
    finally:
        stop.set()
        beat.join(2)
        engine.pipeline.stop()


def run_pool(settings: Settings, processes: int) -> int:
    """Start ``processes`` workers, restart any that die, stop them all on SIGTERM/SIGINT."""
    stopping = threading.Event()
    children: dict[int, subprocess.Popen] = {}
    cmd = [sys.executable, "-m", "worker.runner"]

    def spawn(slot: int) -> None:
        children[slot] = subprocess.Popen(cmd)
        log.info("worker %d started (pid %d)", slot, children[slot].pid)

    def forward(signum, frame):
        stopping.set()
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for slot in range(processes):
        spawn(slot)
    while not stopping.is_set():
        for slot, child in list(children.items()):
            if child.poll() is not None and not stopping.is_set():
                log.warning("worker %d (pid %d) exited with %s; restarting", slot, child.pid, child.returncode)
                spawn(slot)
        stopping.wait(0.5)
    for child in children.values():
        try:
            child.wait(settings.convert_timeout + 30)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def main() -> None:
    """Entry point of one worker process (``python -m worker.runner``)."""
    from .logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    run_one(settings)


if __name__ == "__main__":
    main()
