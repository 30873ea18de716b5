"""Shared fixtures: a real Redis per session, a real LibreOffice, real worker processes.

Nothing here is faked: ``redis_url`` starts its own ``redis-server`` on a free port (never the
machine's 6379), ``pipeline`` supervises its own LibreOffice, ``workers`` runs ``wenshu worker``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis

from core.settings import PROJECT_ROOT, Settings
from helpers import free_port
from worker.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).parent))
FIXTURES = Path(__file__).parent / "fixtures"


def start_redis(tmp: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A throwaway redis-server on a free loopback port; returns (process, url)."""
    port = port or free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except Exception:  # noqa: BLE001
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@contextmanager
def private_redis(tmp_path_factory, settings: Settings, name: str, **changes) -> Iterator[Settings]:
    """Settings pointing at a Redis of a test module's own (queue and key prefix named ``name``)."""
    proc, url = start_redis(tmp_path_factory.mktemp(f"{name}-redis"))
    try:
        yield settings.with_(redis_url=url, queue=name, key_prefix=name, **changes)
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    assert shutil.which("redis-server"), "redis-server is not installed (make test installs it)"
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def settings(redis_url) -> Settings:
    # No render cache: tests that send the same request twice mean two renders (tests/test_render_cache.py
    # turns it on for its own API).
    return Settings(redis_url=redis_url, env="test", convert_timeout=60, max_wait=60, render_cache=False)


@pytest.fixture(scope="session")
def pipeline() -> Iterator[Pipeline]:
    """An in-process renderer with its own LibreOffice (embedded mode)."""
    with Pipeline(Settings(env="test")) as p:
        yield p


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"REDIS_URL": settings.redis_url, "WENSHU_ENV": "test", "WENSHU_QUEUE": settings.queue,
                "WENSHU_KEY_PREFIX": settings.key_prefix, "WENSHU_CONVERT_TIMEOUT": str(settings.convert_timeout),
                "WENSHU_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def start_workers(settings: Settings, processes: int = 1, **env: str) -> subprocess.Popen:
    """``wenshu worker`` as a real process tree; waits until its LibreOffice is up."""
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "worker", "--processes", str(processes)],
                            env=worker_env(settings, **env), cwd=PROJECT_ROOT, start_new_session=True)
    redis = Redis.from_url(settings.redis_url)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        alive = list(redis.scan_iter(match=f"{settings.key_prefix}:lo-alive:*"))
        if len(alive) >= processes:
            return proc
        assert proc.poll() is None, "wenshu worker exited during start-up"
        time.sleep(0.1)
    raise RuntimeError("workers did not report a live LibreOffice within 90 s")


def stop_process_tree(proc: subprocess.Popen, timeout: float = 30) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@pytest.fixture(scope="session")
def workers(settings) -> Iterator[subprocess.Popen]:
    """One real worker process (with its LibreOffice) serving the session's queue."""
    proc = start_workers(settings, 1)
    yield proc
    stop_process_tree(proc)


@pytest.fixture(scope="session")
def app(settings):
    from service.app import create_app

    return create_app(settings)


@pytest.fixture()
def client(app, workers):
    """A Flask test client against the real app, with a real worker behind the real Redis."""
    return app.test_client()
