"""Start and stop a real wenshu stack (Redis, API over HTTP, workers) for benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Stack:
    """Redis + ``wenshu serve`` + ``wenshu worker --processes N`` as separate process trees."""

    def __init__(self, workers: int = 1, extra_env: dict[str, str] | None = None) -> None:
        self.workers = workers
        self.tmp = tempfile.mkdtemp(prefix="wenshu-bench-")
        self.redis_port, self.api_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.env = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                        WENSHU_PORT=str(self.api_port), WENSHU_LOG_LEVEL="WARNING", WENSHU_MAX_QUEUE="10000",
                        WENSHU_MAX_JOBS_PER_KEY="10000",  # one client submits every job: no per-key cap
                        WENSHU_RENDER_CACHE="0")  # benches resend one request: each must really render
        self.env.update(extra_env or {})
        self.procs: list[subprocess.Popen] = []
        self.worker_proc: subprocess.Popen | None = None

    def _spawn(self, *cmd: str) -> subprocess.Popen:
        proc = subprocess.Popen(list(cmd), env=self.env, cwd=ROOT, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=open(Path(self.tmp) / "log", "ab"))
        self.procs.append(proc)
        return proc

    def start(self) -> Stack:
        self._spawn("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", self.tmp)
        self.start_workers(self.workers)
        self._spawn(sys.executable, "-m", "cli.main", "serve")
        self.wait_ready()
        return self

    def start_workers(self, n: int) -> None:
        if self.worker_proc is not None:
            self.stop_proc(self.worker_proc)
            self.procs.remove(self.worker_proc)
            time.sleep(1)
        self.workers = n
        self.worker_proc = self._spawn(sys.executable, "-m", "cli.main", "worker", "--processes", str(n))

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, body = http("GET", self.url + "/readyz", timeout=2)
                if status == 200 and json.loads(body)["workers"] >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"stack not ready; see {self.tmp}/log")

    @staticmethod
    def stop_proc(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self.stop_proc(proc)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
