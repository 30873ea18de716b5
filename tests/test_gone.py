"""A render that existed answers 410 once it expired or was deleted; one that never did, 404.

Expiry is real where the test can afford it (a 1-second WENSHU_RESULT_TTL on a Redis of the
test's own); elsewhere the test deletes the Redis key, which is what expiry does to it.
"""

from __future__ import annotations

import time
import uuid

import pytest
from redis import Redis
from rq.job import Job

from conftest import private_redis, start_workers, stop_process_tree
from core.keys import Keys
from core.payload import CANCELLED, JobDocument
from core.stores import TOMBSTONE_LIFETIMES, JobStore, now_iso
from helpers import assert_problem

UNKNOWN = "0123456789abcdef" * 2


def invoice_body(api, **extra) -> dict:
    return {"template": "invoice", "data": api.get("/v1/templates/invoice/sample").get_json(), **extra}


def finished(api, **extra) -> dict:
    response = api.post("/v1/renders?wait=60", json=invoice_body(api, **extra))
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    return doc


@pytest.fixture()
def own(tmp_path_factory, settings):
    """Settings on a Redis of this test's own, with no worker: jobs stay queued."""
    with private_redis(tmp_path_factory, settings, f"gone-{uuid.uuid4().hex[:8]}", result_ttl=1) as private:
        yield private


def api_for(settings):
    from service.app import create_app

    return create_app(settings).test_client()


# --- expiry -------------------------------------------------------------------------------------


def test_a_render_whose_document_expired_answers_410_saying_so(own):
    api = api_for(own)
    job = api.post("/v1/renders", json=invoice_body(api)).get_json()
    redis, key = Redis.from_url(own.redis_url), Keys(own.key_prefix).job(job["id"])
    deadline = time.monotonic() + 30
    while redis.exists(key) and time.monotonic() < deadline:  # WENSHU_RESULT_TTL=1 doing its work
        time.sleep(0.1)
    assert not redis.exists(key)
    for path in (f"/v1/renders/{job['id']}", f"/v1/renders/{job['id']}/files/invoice.pdf"):
        body = assert_problem(api.get(path), 410)
        assert body["reason"] == "expired"
        assert job["id"] in body["detail"] and "WENSHU_RESULT_TTL=1" in body["detail"]


def test_the_tombstone_outlives_the_document_by_seven_result_ttls(own):
    jobs = JobStore(Redis.from_url(own.redis_url), Keys(own.key_prefix), ttl=600)
    jobs.create(JobDocument(id=UNKNOWN, template={"name": "invoice", "version": "0" * 12}, formats=["pdf"],
                            created_at=now_iso()))
    for _ in range(2):  # as created, and after an update restarted the document's TTL
        doc_ttl, gone_ttl = jobs.redis.ttl(jobs.keys.job(UNKNOWN)), jobs.redis.ttl(jobs.keys.gone(UNKNOWN))
        assert gone_ttl - doc_ttl >= TOMBSTONE_LIFETIMES * 600 - 5
        assert jobs.update(UNKNOWN, status="started") is not None


@pytest.mark.e2e
def test_an_expired_file_answers_410_and_so_does_everything_once_the_document_expires(client, settings):
    doc = finished(client)
    redis, keys = Redis.from_url(settings.redis_url), Keys(settings.key_prefix)
    url = doc["files"][0]["url"]
    redis.delete(keys.file(doc["id"], doc["files"][0]["name"]))  # the bytes expire first
    body = assert_problem(client.get(url), 410)
    assert body["reason"] == "expired" and doc["files"][0]["name"] in body["detail"]
    assert client.get(f"/v1/renders/{doc['id']}").status_code == 200  # the document is still there

    redis.delete(keys.job(doc["id"]))  # then the document
    for path in (f"/v1/renders/{doc['id']}", url, f"/v1/renders/{doc['id']}?wait=1&download=pdf"):
        assert assert_problem(client.get(path), 410)["reason"] == "expired"


# --- unknown ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/v1/renders/{UNKNOWN}", f"/v1/renders/{UNKNOWN}/files/invoice.pdf",
                                  "/v1/renders/not-a-job-id", "/v1/renders/not-a-job-id/files/x.pdf"])
def test_a_render_that_never_existed_is_404(app, path):
    api = app.test_client()
    body = assert_problem(api.get(path), 404)
    assert body["errors"] == [{"path": "job_id", "message": "unknown render"}]
    assert_problem(api.delete(path.split("/files/")[0]), 404)


# --- deleted ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_deleted_render_answers_410_deleted_with_its_files(client):
    doc = finished(client)
    assert client.delete(f"/v1/renders/{doc['id']}").status_code == 204
    for path in (f"/v1/renders/{doc['id']}", doc["files"][0]["url"]):
        body = assert_problem(client.get(path), 410)
        assert (body["reason"], body["job_status"]) == ("deleted", "finished")
        assert "deleted" in body["detail"]
    assert assert_problem(client.delete(f"/v1/renders/{doc['id']}"), 410)["reason"] == "deleted"


def test_deleting_a_queued_render_cancels_it(own):
    api = api_for(own)
    job = api.post("/v1/renders", json=invoice_body(api)).get_json()
    assert job["status"] == "queued"
    assert api.delete(f"/v1/renders/{job['id']}").status_code == 204
    body = assert_problem(api.get(f"/v1/renders/{job['id']}"), 410)
    assert (body["reason"], body["job_status"]) == ("deleted", "cancelled")
    assert "cancelled" in body["detail"]
    redis = Redis.from_url(own.redis_url)
    assert Job.fetch(job["id"], connection=redis).get_status() == "canceled"  # RQ will not run it


@pytest.mark.e2e
def test_a_held_wait_on_a_render_deleted_meanwhile_ends_with_it(tmp_path_factory, settings):
    # No worker: the job stays queued and the GET below holds its ?wait= until the DELETE.
    import threading

    from service.app import create_app

    with private_redis(tmp_path_factory, settings, f"gone-{uuid.uuid4().hex[:8]}") as private:
        app = create_app(private)
        job = app.test_client().post("/v1/renders", json=invoice_body(app.test_client())).get_json()
        answers = []
        waiter = threading.Thread(target=lambda: answers.append(
            app.test_client().get(f"/v1/renders/{job['id']}?wait=30")))
        waiter.start()
        time.sleep(0.5)  # let the GET block on the job-ended signal (if it has not yet, it reads 410 anyway)
        assert app.test_client().delete(f"/v1/renders/{job['id']}").status_code == 204
        waiter.join(60)
        assert not waiter.is_alive()
        # Never the stale "queued" document: either the job's end as cancelled, or 410 if the
        # document was already gone when the waiter read it.
        (answer,) = answers
        if answer.status_code == 200:
            assert answer.get_json()["status"] == "cancelled"
        else:
            assert assert_problem(answer, 410)["reason"] == "deleted"


def test_deleting_a_render_a_worker_takes_at_that_moment_still_deletes_it(own):
    # The race, made deterministic: RQ's cancel meets an execution that is registered but whose
    # record is not there (a worker starting the job in between) and raises. DELETE goes on.
    api = api_for(own)
    job = api.post("/v1/renders", json=invoice_body(api)).get_json()
    redis = Redis.from_url(own.redis_url)
    rq_job = Job.fetch(job["id"], connection=redis)
    rq_job.set_status("started")  # what RQ already says while our document still says queued
    redis.zadd(rq_job.execution_registry.key, {"execution-being-created": time.time() + 600})
    assert api.delete(f"/v1/renders/{job['id']}").status_code == 204
    body = assert_problem(api.get(f"/v1/renders/{job['id']}"), 410)
    assert (body["reason"], body["job_status"]) == ("deleted", "cancelled")


def test_a_worker_does_nothing_with_cancelled_renders(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, f"cancel-{uuid.uuid4().hex[:8]}") as own:
        api = api_for(own)
        deleted = api.post("/v1/renders", json=invoice_body(api)).get_json()
        assert api.delete(f"/v1/renders/{deleted['id']}").status_code == 204
        # A render cancelled while a worker is already taking it off the queue: the RQ job runs.
        raced = api.post("/v1/renders", json=invoice_body(api)).get_json()
        jobs = JobStore(Redis.from_url(own.redis_url), Keys(own.key_prefix), own.result_ttl)
        assert jobs.update(raced["id"], status=CANCELLED) is not None
        later = api.post("/v1/renders", json=invoice_body(api)).get_json()

        workers = start_workers(own, 1)
        try:
            done = api.get(f"/v1/renders/{later['id']}?wait=60").get_json()
            assert done["status"] == "finished", done
        finally:
            stop_process_tree(workers)
        assert assert_problem(api.get(f"/v1/renders/{deleted['id']}"), 410)["job_status"] == "cancelled"
        kept = api.get(f"/v1/renders/{raced['id']}").get_json()
        assert (kept["status"], kept["files"], kept["started_at"]) == ("cancelled", [], None)
        assert not list(jobs.redis.scan_iter(match=Keys(own.key_prefix).file(raced["id"], "*")))
