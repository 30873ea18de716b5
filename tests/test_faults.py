"""No job is lost: worker processes, LibreOffice and Redis fail for real, jobs still end right.

Each scenario runs real processes and sends real signals. Where a fault must strike during a
conversion, the conversion is held at lo_server.py's test gate (faultkit.ConversionGate): the test
knows the conversion is in progress, and which LibreOffice holds it, before it does any damage,
and sees the retry arrive at the gate. The waits are bounded, none is timed.
"""

from __future__ import annotations

import os
import signal

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry

from conftest import private_redis, start_redis, start_workers, stop_process_tree
from core.settings import Settings
from faultkit import (
    ConversionGate,
    alive,
    descendants,
    kill,
    pid_running_job,
    post_adhoc,
    restarts_total,
    wait_status,
    wait_until,
    worker_pids,
)
from helpers import docx_with, pdf_text
from service.app import create_app
from worker.pipeline import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HELD_TEMPLATE = docx_with("Held conversion {{ title }}", "Last line {{ title | upper }}")
TIMEOUT_SECONDS = 10
"""convert_timeout of the timeout test's worker: the gate outlasts it, whatever the machine's speed;
generous, so the conversion after it (on a cold instance) never comes near it."""


@pytest.fixture(scope="module")
def redis_env(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, "faults") as env:
        yield env


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    gate = ConversionGate(tmp_path_factory.mktemp("faults-gate"))
    yield gate
    gate.open()


@pytest.fixture(scope="module")
def pool(redis_env, gate):
    """Two worker processes, each with its own LibreOffice, both behind the gate."""
    proc = start_workers(redis_env, 2, **gate.env())
    yield proc
    stop_process_tree(proc)


@pytest.fixture(scope="module")
def api(redis_env, pool):
    return create_app(redis_env).test_client()


@pytest.fixture()
def held(gate):
    """The gate closed for one test (opened again whatever happens)."""
    gate.close()
    yield gate
    gate.open()


def _start_held_job(api, gate: ConversionGate, title: str) -> tuple[str, int]:
    """Queue a job and wait until its conversion is held; return its id and the lo_server pid."""
    r = post_adhoc(api, HELD_TEMPLATE, {"title": title})
    assert r.status_code == 202, r.get_json()
    ((lo_server, _),) = gate.wait_entered(1)
    return r.get_json()["id"], lo_server


def _assert_pdf(api, doc: dict, title: str) -> None:
    text = pdf_text(api.get(doc["files"][0]["url"]).data)
    assert f"Held conversion {title}" in text
    assert f"Last line {title.upper()}" in text


def _rq_job(settings, job_id: str) -> Job:
    return Job.fetch(job_id, connection=Redis.from_url(settings.redis_url))


def test_killed_worker_process_job_is_retried_and_finishes(api, redis_env, pool, held):
    job_id, first_lo = _start_held_job(api, held, "killedworker")
    victim = pid_running_job(redis_env, job_id)
    assert first_lo in descendants(victim), "the held conversion is the victim's"
    assert _rq_job(redis_env, job_id).retries_left == 1
    kill(victim)

    # The job comes back to the gate in another LibreOffice, its one retry used.
    entries = held.wait_entered(2)
    assert entries[1][0] != first_lo
    assert _rq_job(redis_env, job_id).retries_left == 0
    held.open()
    doc = wait_status(api, job_id, ("finished", "failed"), 120)
    assert doc["status"] == "finished", doc
    _assert_pdf(api, doc, "killedworker")
    # The pool replaced the dead process, and the dead one's LibreOffice did not outlive it.
    wait_until(lambda: len(worker_pids(redis_env)) == 2 and victim not in worker_pids(redis_env).values(),
               60, "a replacement worker process")
    wait_until(lambda: not alive(first_lo), 15, "the dead worker's LibreOffice to exit")


def test_killed_soffice_is_restarted_and_the_job_succeeds(api, redis_env, pool, held):
    crashes_before = restarts_total(api, "crash")
    job_id, first_lo = _start_held_job(api, held, "killedsoffice")
    worker = pid_running_job(redis_env, job_id)
    bins = [p for p, args in descendants(first_lo).items() if "soffice.bin" in args]
    assert bins, "soffice.bin under the lo_server holding the conversion"
    for pid in bins:
        kill(pid)

    # The same worker retries on a fresh LibreOffice: the retry reaches the gate there.
    entries = held.wait_entered(2)
    assert entries[1][0] != first_lo and entries[1][0] in descendants(worker)
    held.open()
    doc = wait_status(api, job_id, ("finished", "failed"), 120)
    assert doc["status"] == "finished", doc
    _assert_pdf(api, doc, "killedsoffice")
    assert worker in worker_pids(redis_env).values(), "the worker process itself survived"
    assert restarts_total(api, "crash") == crashes_before + 1


def test_user_error_fails_once_with_reason_and_is_not_retried(api, redis_env, pool):
    template = docx_with("Total: {{ totals.sum // totals.count }}")
    r = post_adhoc(api, template, {"totals": {"sum": 1, "count": 0}})
    job_id = r.get_json()["id"]
    doc = wait_status(api, job_id, ("finished", "failed"), 60)
    assert doc["status"] == "failed"
    assert doc["error"]["status"] == 422
    assert "ZeroDivisionError" in doc["error"]["detail"]
    redis = Redis.from_url(redis_env.redis_url)
    # The failure is the user's: the RQ job ended normally (result_ttl=0 deletes it), its retry
    # unused; it is in no failed, started or queued list that could bring it back. The document
    # is written inside the job, so RQ's own bookkeeping may trail it by a moment: wait for that,
    # not for speed — a retried or failed job would stay and time this out.
    wait_until(lambda: not Job.exists(job_id, connection=redis), 30, "RQ to finish the job normally")
    assert job_id not in FailedJobRegistry(redis_env.queue, connection=redis).get_job_ids()
    assert job_id not in StartedJobRegistry(redis_env.queue, connection=redis).get_job_ids()
    assert job_id not in Queue(redis_env.queue, connection=redis).job_ids


@pytest.fixture(scope="module")
def timeout_env(redis_env, tmp_path_factory):
    """One worker whose conversions may take TIMEOUT_SECONDS, on a queue and gate of its own."""
    gate = ConversionGate(tmp_path_factory.mktemp("timeout-gate"))
    env = redis_env.with_(queue="faults-timeout", convert_timeout=TIMEOUT_SECONDS)
    proc = start_workers(env, 1, **gate.env())
    yield env, create_app(env).test_client(), gate
    gate.open()
    stop_process_tree(proc)


def test_conversion_over_timeout_fails_naming_it_and_next_job_succeeds(timeout_env):
    env, api, gate = timeout_env
    before = restarts_total(api, "timeout")
    gate.close()
    try:
        r = post_adhoc(api, HELD_TEMPLATE, {"title": "timeout"}, query="?wait=60")
        doc = r.get_json()
        assert doc["status"] == "failed", doc
        assert doc["error"]["status"] == 502
        assert f"within {TIMEOUT_SECONDS} s" in doc["error"]["detail"]
        assert "WENSHU_CONVERT_TIMEOUT" in doc["error"]["detail"]
        # It was held in LibreOffice when the timeout struck, that instance was killed, and a
        # timeout is not retried (the document would most likely hang again).
        ((held_by, _),) = gate.entered()
        wait_until(lambda: not alive(held_by), 15, "the timed-out LibreOffice to be gone")
        assert restarts_total(api, "timeout") == before + 1
    finally:
        gate.open()

    r = post_adhoc(api, docx_with("After the timeout: {{ word }}"), {"word": "恢复"}, query="?wait=60")
    doc = r.get_json()
    assert doc["status"] == "finished", doc
    assert "恢复" in pdf_text(api.get(doc["files"][0]["url"]).data)


def test_redis_restart_gives_503_then_recovers_without_restarting_anything(tmp_path, settings):
    redis_proc, url = start_redis(tmp_path)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    env = settings.with_(redis_url=url, queue="faults-redis", key_prefix="faults-redis")
    workers = start_workers(env, 1)
    try:
        api = create_app(env).test_client()
        first = post_adhoc(api, docx_with("before {{ n }}"), {"n": 1}, query="?wait=60").get_json()
        assert first["status"] == "finished", first

        redis_proc.terminate()
        redis_proc.wait(10)
        for response in (api.get(f"/v1/renders/{first['id']}"),
                         post_adhoc(api, docx_with("down"), {}),
                         api.get("/readyz")):
            assert response.status_code == 503
            assert response.mimetype == "application/problem+json"
            assert "Redis" in response.get_json()["detail"] or response.request.path == "/readyz"

        redis_proc, _ = start_redis(tmp_path, port)
        # The same API object and the same worker processes, both reconnecting by themselves.
        wait_until(lambda: api.get("/readyz").status_code == 200, 60, "/readyz after Redis came back")
        after = post_adhoc(api, docx_with("after {{ n }}"), {"n": 2}, query="?wait=60").get_json()
        assert after["status"] == "finished", after
        assert "after 2" in pdf_text(api.get(after["files"][0]["url"]).data)
        bundled = api.post("/v1/renders?wait=60", json={
            "template": "invoice", "data": api.get("/v1/templates/invoice/sample").get_json()})
        assert bundled.status_code == 200, bundled.get_json()
        assert bundled.get_json()["status"] == "finished"
        assert workers.poll() is None
    finally:
        stop_process_tree(workers)
        redis_proc.terminate()
        redis_proc.wait(10)


def test_jobs_of_a_whole_killed_pool_are_recovered_by_the_next_pool(tmp_path_factory, settings):
    # kill -9 of the pool and its workers together (a host lost): no process is left to notice,
    # so the next pool's sweep finds the started job whose worker stopped reporting.
    gate = ConversionGate(tmp_path_factory.mktemp("orphans-gate"))
    with private_redis(tmp_path_factory, settings, "orphans") as env:
        api = create_app(env).test_client()
        first = start_workers(env, 1, **gate.env())
        gate.close()
        try:
            job_id, first_lo = _start_held_job(api, gate, "orphan")
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        second = start_workers(env, 1, **gate.env())
        try:
            entries = gate.wait_entered(2)
            assert entries[1][0] != first_lo
            assert _rq_job(env, job_id).retries_left == 0
            gate.open()
            doc = wait_status(api, job_id, ("finished", "failed"), 120)
            assert doc["status"] == "finished", doc
            _assert_pdf(api, doc, "orphan")
            wait_until(lambda: not alive(first_lo), 15, "the lost pool's LibreOffice to stop with it")
        finally:
            gate.open()
            stop_process_tree(second)


def test_gate_holds_nothing_outside_the_test_environment(tmp_path, monkeypatch):
    # The hook is for tests only: an instance started for development ignores a closed gate.
    gate = ConversionGate(tmp_path / "gate")
    monkeypatch.setenv(*next(iter(gate.env().items())))
    gate.close()
    try:
        with Pipeline(Settings(env="development", convert_timeout=60)) as pipeline:
            pdf = pipeline.render(HELD_TEMPLATE, {"title": "ungated"})["pdf"]
    finally:
        gate.open()
    assert "Held conversion ungated" in pdf_text(pdf)
    assert gate.entered() == []
