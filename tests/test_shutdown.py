"""Graceful shutdown: SIGTERM lets the work in hand finish, then everything exits.

What a rolling deploy does: ``docker stop`` / Kubernetes send SIGTERM to the main process. A
render in progress must finish, a client held by ``?wait=`` must get its answer, and no
LibreOffice may be left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

from conftest import private_redis, start_workers, stop_process_tree, worker_env
from core.settings import PROJECT_ROOT
from faultkit import (
    ConversionGate,
    alive,
    descendants,
    job_doc,
    pid_running_job,
    post_adhoc,
    wait_status,
    wait_until,
    worker_pids,
)
from helpers import docx_with, free_port, pdf_text
from service.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

@pytest.fixture(scope="module")
def env(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, "shutdown") as env:
        yield env


def test_sigterm_to_worker_finishes_the_running_job_then_exits_with_its_libreoffice(env, tmp_path):
    gate = ConversionGate(tmp_path / "gate")
    pool = start_workers(env, 2, **gate.env())
    gate.close()
    try:
        api = create_app(env).test_client()
        job_id = post_adhoc(api, docx_with("Finished after {{ what }}"), {"what": "SIGTERM"}).get_json()["id"]
        ((held_by, _),) = gate.wait_entered(1)
        busy = pid_running_job(env, job_id)
        (idle,) = set(worker_pids(env).values()) - {busy}
        assert held_by in descendants(busy), "the job is mid-conversion in the busy worker's LibreOffice"
        tree = descendants(pool.pid)
        assert sum("soffice.bin" in args for args in tree.values()) == 2

        os.kill(pool.pid, signal.SIGTERM)  # as `docker stop` does: the main process only
        # The idle worker leaving proves the signal reached the workers while the job was held.
        wait_until(lambda: not alive(idle), 60, "the idle worker to exit on SIGTERM")
        assert alive(busy) and job_doc(api, job_id)["status"] == "started"
        assert len(gate.entered()) == 1, "still the first conversion, held"
        gate.open()
        assert pool.wait(120) == 0

        doc = wait_status(api, job_id, ("finished", "failed"), 5)
        assert doc["status"] == "finished", doc
        assert "Finished after SIGTERM" in pdf_text(api.get(doc["files"][0]["url"]).data)
        wait_until(lambda: not [p for p in tree if alive(p)], 15, "every worker and soffice process to exit")
    finally:
        gate.open()
        stop_process_tree(pool)


def test_sigterm_to_serve_answers_the_waiting_request_then_exits(env, tmp_path):
    # The job is held mid-conversion at the gate, so the ?wait= request is certainly in flight
    # when SIGTERM arrives, whatever the machine's speed.
    gate = ConversionGate(tmp_path / "gate")
    workers = start_workers(env, 1, **gate.env())
    gate.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
                              env=worker_env(env), cwd=PROJECT_ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            try:
                return urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(healthy, 30, "wenshu serve to answer /healthz")
        sample = json.load(urllib.request.urlopen(f"{base}/v1/templates/invoice/sample", timeout=10))
        body = json.dumps({"template": "invoice", "data": sample}).encode()
        answer: dict = {}

        def waiting_client():
            request = urllib.request.Request(f"{base}/v1/renders?wait=60", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=90) as response:
                answer["status"] = response.status
                answer["doc"] = json.load(response)

        client = threading.Thread(target=waiting_client)
        client.start()
        gate.wait_entered(1)

        server.send_signal(signal.SIGTERM)
        wait_until(lambda: not healthy(), 30, "wenshu serve to stop accepting new requests")
        assert server.poll() is None and client.is_alive(), "the held request keeps the server draining"
        gate.open()
        client.join(120)
        assert not client.is_alive()
        assert answer["status"] == 200
        assert answer["doc"]["status"] == "finished", answer["doc"]
        assert server.wait(30) == 0
    finally:
        gate.open()
        stop_process_tree(server)
        stop_process_tree(workers)
