"""No job is lost: worker processes, LibreOffice and Redis fail for real, jobs still end right.

Each scenario runs real processes and sends real signals; the waits are bounded, none is timed.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry

from conftest import private_redis, start_redis, start_workers, stop_process_tree
from faultkit import (
    alive,
    descendants,
    kill,
    pid_running_job,
    post_adhoc,
    restarts_total,
    soffice_bins,
    table_data,
    table_template,
    wait_status,
    wait_until,
    worker_pids,
)
from helpers import docx_with, pdf_text, squash
from service.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLOW_ROWS = 1200
"""Table rows that take LibreOffice a few seconds (measured ~3.5 s on 2 cores): time to kill it."""


@pytest.fixture(scope="module")
def redis_env(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, "faults") as env:
        yield env


@pytest.fixture(scope="module")
def pool(redis_env):
    """Two worker processes, each with its own LibreOffice."""
    proc = start_workers(redis_env, 2)
    yield proc
    stop_process_tree(proc)


@pytest.fixture(scope="module")
def api(redis_env, pool):
    return create_app(redis_env).test_client()


def _start_slow_job(api, rows: int = SLOW_ROWS, title: str = "slow") -> str:
    r = post_adhoc(api, table_template(), table_data(rows, title))
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    wait_status(api, job_id, ("started",), 60)
    return job_id


def _assert_full_pdf(api, doc: dict, rows: int, title: str) -> None:
    pdf = api.get(doc["files"][0]["url"]).data
    text = squash(pdf_text(pdf))
    assert f"Bigtable{title}" in text
    assert f"r{rows - 1}c{rows - 1}" in text


def test_killed_worker_process_job_is_retried_and_finishes(api, redis_env, pool):
    job_id = _start_slow_job(api, title="killedworker")
    victim = pid_running_job(redis_env, job_id)
    lo_servers = [p for p, args in descendants(victim).items() if "lo_server.py" in args]
    kill(victim)

    doc = wait_status(api, job_id, ("finished", "failed"), 120)
    assert doc["status"] == "finished", doc
    _assert_full_pdf(api, doc, SLOW_ROWS, "killedworker")
    # The pool replaced the dead process, and the dead one's LibreOffice did not outlive it.
    wait_until(lambda: len(worker_pids(redis_env)) == 2 and victim not in worker_pids(redis_env).values(),
               60, "a replacement worker process")
    assert lo_servers
    wait_until(lambda: not any(alive(p) for p in lo_servers), 15, "the dead worker's LibreOffice to exit")


def test_killed_soffice_is_restarted_and_the_job_succeeds(api, redis_env, pool):
    before = restarts_total(api)
    job_id = _start_slow_job(api, title="killedsoffice")
    worker = pid_running_job(redis_env, job_id)
    bins = wait_until(lambda: soffice_bins(worker), 10, "soffice.bin under the worker")
    time.sleep(0.5)  # let the conversion get under way (the test holds either way)
    for pid in bins:
        kill(pid)

    doc = wait_status(api, job_id, ("finished", "failed"), 120)
    assert doc["status"] == "finished", doc
    _assert_full_pdf(api, doc, SLOW_ROWS, "killedsoffice")
    assert worker in worker_pids(redis_env).values(), "the worker process itself survived"
    assert restarts_total(api) >= before + 1


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
    # unused; it is in no failed, started or queued list that could bring it back.
    assert not Job.exists(job_id, connection=redis)
    assert job_id not in FailedJobRegistry(redis_env.queue, connection=redis).get_job_ids()
    assert job_id not in StartedJobRegistry(redis_env.queue, connection=redis).get_job_ids()
    assert job_id not in Queue(redis_env.queue, connection=redis).job_ids


@pytest.fixture(scope="module")
def timeout_env(redis_env):
    """One worker whose conversions may take 2 s, on a queue of its own."""
    env = redis_env.with_(queue="faults-timeout", convert_timeout=2)
    proc = start_workers(env, 1)
    yield env, create_app(env).test_client()
    stop_process_tree(proc)


def test_conversion_over_timeout_fails_naming_it_and_next_job_succeeds(timeout_env):
    env, api = timeout_env
    before = restarts_total(api)
    r = post_adhoc(api, table_template(), table_data(SLOW_ROWS), query="?wait=60")
    doc = r.get_json()
    assert doc["status"] == "failed", doc
    assert doc["error"]["status"] == 502
    assert "within 2 s" in doc["error"]["detail"] and "WENSHU_CONVERT_TIMEOUT" in doc["error"]["detail"]
    assert restarts_total(api) >= before + 1

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
    with private_redis(tmp_path_factory, settings, "orphans") as env:
        api = create_app(env).test_client()
        first = start_workers(env, 1)
        try:
            job_id = _start_slow_job(api, title="orphan")
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        second = start_workers(env, 1)
        try:
            doc = wait_status(api, job_id, ("finished", "failed"), 120)
            assert doc["status"] == "finished", doc
            _assert_full_pdf(api, doc, SLOW_ROWS, "orphan")
        finally:
            stop_process_tree(second)
