"""`make run` stops in order and keeps its queue: nothing is lost on SIGTERM.

``scripts/run.sh`` runs for real (its own Redis, one worker, the API) in a run directory of the
test's own. Under load — one slow render in hand, a client held by ``?wait=``, more jobs queued —
it gets SIGTERM, as ``docker stop``, systemd or a terminal's Ctrl-C would send. The held client must
get its answer, no job may fail, and a second start on the same run directory must finish every
job: the queued ones were kept by Redis's append-only file.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from redis import Redis

from core.keys import Keys
from core.settings import PROJECT_ROOT, Settings
from faultkit import alive, descendants, wait_until
from helpers import free_port, pdf_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUEUED = 8
"""Jobs queued behind the slow one when SIGTERM arrives."""
BIG_INVOICE_ITEMS = 500
"""The schema's maximum: a table LibreOffice needs a few seconds for, so SIGTERM finds it in hand."""


class RunSh:
    """``bash scripts/run.sh`` in a session of its own, with its output in the run directory."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.run_dir, self.base = run_dir, f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("WENSHU_") and k != "REDIS_URL"}
        env.update(WENSHU_RUN_DIR=str(run_dir), WENSHU_PORT=str(port), WENSHU_WORKERS="1",
                   WENSHU_LOG_LEVEL="WARNING")
        run_dir.mkdir(parents=True, exist_ok=True)
        self.output = run_dir / f"run-sh-{len(list(run_dir.glob('run-sh-*')))}.out"
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=PROJECT_ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        def ready():
            assert self.proc.poll() is None, f"run.sh exited during start-up:\n{self.text()}"
            try:
                return urllib.request.urlopen(f"{self.base}/readyz", timeout=5).status == 200
            except OSError:
                return False

        wait_until(ready, 240, "make run to report ready", interval=0.5)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def redis(self) -> Redis:
        return Redis(port=int((self.run_dir / "redis.port").read_text()))

    def stop(self, timeout: float = 300) -> int:
        """SIGTERM to run.sh only (its children are in sessions of their own); its exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill_everything(self) -> None:
        """Safety net after a failed test: no Redis, worker or LibreOffice may outlive it."""
        tree = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.kill()
        for pid in tree:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)


def request(base: str, path: str, body: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """One HTTP request as a client sends it; (status, body) also for 4xx/5xx answers."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def invoice(sample: dict, number: str, items: int | None = None) -> dict:
    """A render request for the bundled invoice, numbered so its PDF can be told apart."""
    data = copy.deepcopy(sample)
    data["invoice_no"] = number
    if items:
        data["items"] = [dict(sample["items"][0], description=f"line {i}") for i in range(items)]
    return {"template": "invoice", "data": data}


def submit(base: str, body: dict) -> str:
    status, answer = request(base, "/v1/renders", body)
    assert status == 202, answer
    return json.loads(answer)["id"]


def job(base: str, job_id: str) -> dict:
    status, answer = request(base, f"/v1/renders/{job_id}")
    assert status == 200, answer
    return json.loads(answer)


def stop_under_load(run: RunSh) -> dict[str, str]:
    """Put one slow job in hand, hold a ``?wait=`` client, queue more, then SIGTERM ``run``.

    Checks what the held client and ``run.sh`` answered; returns job id → invoice number of
    every job submitted.
    """
    base = run.base
    sample = json.loads(request(base, "/v1/templates/invoice/sample")[1])
    slow = submit(base, invoice(sample, "WS-SLOW", BIG_INVOICE_ITEMS))
    wait_until(lambda: job(base, slow)["status"] != "queued", 120, "the slow job to start")

    held: dict = {}

    def held_client() -> None:
        held["status"], held["body"] = request(base, "/v1/renders?wait=60", invoice(sample, "WS-HELD"), timeout=120)

    client = threading.Thread(target=held_client)
    client.start()
    redis, keys = run.redis(), Keys(Settings().key_prefix)
    wait_until(lambda: len(list(redis.scan_iter(match=keys.job("*")))) >= 2, 60, "the held request's job to exist")
    queued = {submit(base, invoice(sample, f"WS-Q{i}")): f"WS-Q{i}" for i in range(QUEUED)}

    assert run.stop() == 0, run.text()
    client.join(10)
    assert not client.is_alive()
    assert held["status"] in (200, 202), held  # answered, not 503 "job store unreachable"
    held_doc = json.loads(held["body"])
    assert held_doc["status"] != "failed", held_doc
    return {slow: "WS-SLOW", held_doc["id"]: "WS-HELD", **queued}


def assert_every_job_finishes(run: RunSh, expected: dict[str, str]) -> None:
    """Each job ends finished, and its PDF shows its own invoice number."""
    for job_id, number in expected.items():
        doc = wait_until(lambda j=job_id: (d := job(run.base, j))["status"] in ("finished", "failed") and d,
                         180, f"job {job_id} ({number}) to end")
        assert doc["status"] == "finished", doc
        status, pdf = request(run.base, doc["files"][0]["url"])
        assert status == 200
        assert number in pdf_text(pdf)


def test_sigterm_under_load_loses_no_job_and_a_restart_finishes_the_queue(tmp_path):
    run_dir = tmp_path / "run"
    runs = [RunSh(run_dir, free_port())]
    try:
        runs[0].wait_ready()
        expected = stop_under_load(runs[0])
        assert [line for line in runs[0].text().splitlines() if line.startswith("wenshu: stop")] == [
            "wenshu: stopping the API: it answers the requests in flight (Ctrl-C again to hurry)",
            "wenshu: stopping the workers: each finishes the job in hand; queued jobs stay in Redis for the next "
            "start",
            f"wenshu: stopping Redis: queue, jobs and results are kept in {run_dir / 'redis'}",
            "wenshu: stopped",
        ]

        runs.append(RunSh(run_dir, free_port()))
        runs[1].wait_ready()
        assert_every_job_finishes(runs[1], expected)
        redis_url = runs[0].text().split("started Redis at ")[1].split()[0]
        assert f"started Redis at {redis_url}" in runs[1].text(), "the second start moved Redis to another port"
        assert runs[1].stop() == 0, runs[1].text()
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.kill_everything()
