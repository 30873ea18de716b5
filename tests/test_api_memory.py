"""Neither the API process nor the worker grows with ``POST /v1/renders?wait=``.

Issue #15 reported ~137 KB of API memory per held-wait render, linear. The API runs here as a real
``wenshu serve`` subprocess (so its RSS can be read from /proc), against the session's Redis and
worker; hundreds of invoice renders (DOCX, the same API path as PDF without LibreOffice's time) are
sent with ``?wait=``, every fifth also downloading its file, and the RSS growth after a warm-up must
stay far below what the reported growth would add. The worker that rendered them is held to the same
bound: before it trimmed the C heap after each job it kept ~100 KB per render. A memory bound, not a
timing one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import stop_process_tree, worker_env
from core.settings import PROJECT_ROOT
from helpers import free_port

WARMUP, MEASURED = 40, 200
LIMIT_BYTES = 10 * 2**20
"""Allowed growth over MEASURED renders: the reported leak would add 200 × 137 KB ≈ 27 MB."""


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"process {pid} has no RSS (gone?)")


def call(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return answer.status, answer.read()


def worker_rss(pool_pid: int) -> int:
    """RSS of the worker processes under the pool (LibreOffice and its server excluded)."""
    children = [int(p) for p in Path(f"/proc/{pool_pid}/task/{pool_pid}/children").read_text().split()]
    return sum(rss(pid) for pid in children if b"worker.runner" in Path(f"/proc/{pid}/cmdline").read_bytes())


@pytest.fixture(scope="module")
def api(settings, workers):
    """``wenshu serve`` as a subprocess on the session's Redis and queue; (pid, base URL)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve"], cwd=PROJECT_ROOT, start_new_session=True,
                            env=worker_env(settings, WENSHU_PORT=str(port), WENSHU_MAX_JOBS_PER_KEY="1000"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            call(url + "/healthz")
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "wenshu serve did not start"
            time.sleep(0.1)
    yield proc.pid, url
    stop_process_tree(proc)


@pytest.mark.e2e
@pytest.mark.slow
def test_held_wait_renders_grow_neither_the_api_nor_the_worker(api, workers):
    pid, url = api
    sample = json.loads(call(url + "/v1/templates/invoice/sample")[1])
    body = {"template": "invoice", "data": sample, "formats": ["docx"]}

    def render(i: int) -> str:
        status, raw = call(url + "/v1/renders?wait=60", body)
        doc = json.loads(raw)
        assert status == 200 and doc["status"] == "finished", doc
        if i % 5 == 0:
            assert call(url + doc["files"][0]["url"])[0] == 200
        return doc["id"]

    with ThreadPoolExecutor(4) as clients:
        list(clients.map(render, range(WARMUP)))
        before, worker_before = rss(pid), worker_rss(workers.pid)
        done = list(clients.map(render, range(MEASURED)))
    grown, worker_grown = rss(pid) - before, worker_rss(workers.pid) - worker_before
    assert len(set(done)) == MEASURED and worker_before > 0
    assert grown < LIMIT_BYTES, f"the API grew {grown / 2**20:.1f} MiB over {MEASURED} held-wait renders"
    assert worker_grown < LIMIT_BYTES, f"the worker grew {worker_grown / 2**20:.1f} MiB over {MEASURED} renders"
