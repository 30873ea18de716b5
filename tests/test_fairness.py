"""Fairness between API keys, and CPU-heavy renders that cannot hold workers twice.

One key may have at most WENSHU_MAX_JOBS_PER_KEY jobs queued or running; beyond that it gets 429
while other keys are still served. The count comes from the job documents themselves, so it frees
up when jobs end or are deleted. A render stopped by its CPU limit fails once, for good: it is
the template's fault, and retrying it would hold a worker for the limit a second time.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator

import pytest
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from conftest import private_redis, start_workers, stop_process_tree
from faultkit import wait_until
from helpers import docx_with
from service.app import create_app
from service.quota import HeldWaits

pytestmark = [pytest.mark.e2e]

KEY_A, KEY_B = "key-a-0123456789", "key-b-0123456789"
LIMIT = 2
CPU_LIMIT = 1
CPU_BOMB = docx_with("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}")


@pytest.fixture(scope="module")
def env(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, "fairness", api_keys=(KEY_A, KEY_B),
                       max_jobs_per_key=LIMIT, render_timeout=CPU_LIMIT) as env:
        yield env


@pytest.fixture()
def idle(env, request):
    """An API whose queue no worker serves (jobs stay queued), with key names of this test's own."""
    name = f"fair-{request.node.name[-40:]}"
    return create_app(env.with_(queue=name, key_prefix=name)).test_client()


@pytest.fixture(scope="module")
def working(env) -> Iterator[tuple]:
    """An API with one real worker (render CPU limit 1 s) behind it."""
    work_env = env.with_(queue="fairness-work")
    workers = start_workers(work_env, 1, WENSHU_RENDER_TIMEOUT=str(CPU_LIMIT))
    try:
        yield work_env, create_app(work_env).test_client()
    finally:
        stop_process_tree(workers)


def _render(api, key: str, template: bytes = b"", query: str = ""):
    form = {"template": (io.BytesIO(template or docx_with("hello {{ name }}")), "t.docx"),
            "data": json.dumps({"name": "fair"})}
    return api.post(f"/v1/renders{query}", data=form, content_type="multipart/form-data",
                    headers={"Authorization": f"Bearer {key}"})


def test_a_key_past_its_job_limit_gets_429_naming_the_limit_while_another_key_is_served(idle):
    for _ in range(LIMIT):
        assert _render(idle, KEY_A).status_code == 202
    refused = _render(idle, KEY_A)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"].isdigit()
    problem = refused.get_json()
    assert problem["status"] == 429
    assert f"WENSHU_MAX_JOBS_PER_KEY={LIMIT}" in problem["detail"]
    assert _render(idle, KEY_B).status_code == 202


def test_a_key_can_submit_again_once_its_jobs_are_deleted(idle):
    jobs = [_render(idle, KEY_A).get_json()["id"] for _ in range(LIMIT)]
    assert _render(idle, KEY_A).status_code == 429
    auth = {"Authorization": f"Bearer {KEY_A}"}
    assert idle.delete(f"/v1/renders/{jobs[0]}", headers=auth).status_code == 204
    assert _render(idle, KEY_A).status_code == 202
    assert _render(idle, KEY_A).status_code == 429


def test_the_queued_job_carries_a_hash_of_the_key_never_the_key(idle):
    job_id = _render(idle, KEY_B).get_json()["id"]
    redis = idle.application.extensions["wenshu"].redis
    payload = Job.fetch(job_id, connection=redis).args[0]
    assert payload["owner"] == hashlib.sha256(KEY_B.encode()).hexdigest()[:16]
    assert KEY_B not in json.dumps(payload)
    assert not [k for k in redis.keys("*") if KEY_B.encode() in k]


def test_an_open_api_counts_each_remote_address_as_one_client(env):
    api = create_app(env.with_(api_keys=(), queue="fairness-open", max_jobs_per_key=1)).test_client()
    sample = api.get("/v1/templates/invoice/sample").get_json()
    body = {"template": "invoice", "data": sample}
    first, second = ({"REMOTE_ADDR": "192.0.2.1"}, {"REMOTE_ADDR": "192.0.2.2"})
    assert api.post("/v1/renders", json=body, environ_base=first).status_code == 202
    assert api.post("/v1/renders", json=body, environ_base=first).status_code == 429
    assert api.post("/v1/renders", json=body, environ_base=second).status_code == 202


def test_a_key_can_submit_again_once_a_worker_ended_its_jobs(working):
    _, api = working
    jobs = [_render(api, KEY_A, CPU_BOMB).get_json()["id"] for _ in range(LIMIT)]
    for job_id in jobs:
        doc = wait_status(api, job_id, ("finished", "failed"), 120)
        assert doc["status"] == "failed"
    again = _render(api, KEY_A)
    assert again.status_code == 202
    # Let it end here, so the next test on this worker starts from an idle worker.
    assert wait_status(api, again.get_json()["id"], ("finished", "failed"), 120)["status"] == "finished"


def test_a_render_stopped_by_its_cpu_limit_fails_once_and_is_not_retried(working):
    work_env, api = working
    redis = api.application.extensions["wenshu"].redis
    # RQ counts a run in the same transaction that takes it off the started registry: once that is
    # empty (and nothing is queued), earlier tests' jobs are all counted and `before` is final.
    queue = Queue(work_env.queue, connection=redis)
    wait_until(lambda: queue.count == 0 and StartedJobRegistry(queue=queue).count == 0, 60,
               "earlier jobs to be counted")
    before = _rq_outcomes(work_env, redis)
    bomb = _render(api, KEY_B, CPU_BOMB, query="?wait=60")
    doc = wait_status(api, bomb.get_json()["id"], ("finished", "failed"), 120)
    assert doc["status"] == "failed"
    assert doc["error"]["status"] == 422
    assert "WENSHU_RENDER_TIMEOUT" in doc["error"]["detail"]
    # A retry would be queued behind it at once: after the next job finishes, RQ has run exactly two.
    after_bomb = _render(api, KEY_B, query="?wait=60").get_json()
    assert wait_status(api, after_bomb["id"], ("finished", "failed"), 120)["status"] == "finished"
    wait_until(lambda: _rq_outcomes(work_env, redis)[0] >= before[0] + 2, 30, "RQ to count both jobs")
    assert _rq_outcomes(work_env, redis) == (before[0] + 2, before[1])


def wait_status(api, job_id: str, statuses: tuple[str, ...], timeout: float) -> dict:
    """The job's document once its status is one of ``statuses`` (asked with key A: any key may read)."""
    def current():
        doc = api.get(f"/v1/renders/{job_id}", headers={"Authorization": f"Bearer {KEY_A}"}).get_json()
        return doc if doc.get("status") in statuses else None

    return wait_until(current, timeout, f"job {job_id} to reach {statuses}")


def _rq_outcomes(env, redis) -> tuple[int, int]:
    """(successful, failed) job runs of the queue's RQ workers: each attempt of a job is one."""
    workers = Worker.all(queue=Queue(env.queue, connection=redis))
    return sum(w.successful_job_count for w in workers), sum(w.failed_job_count for w in workers)


def test_held_waits_allow_the_limit_then_refuse_until_one_is_released():
    waits = HeldWaits(2)
    with waits.slot() as first, waits.slot() as second:
        with waits.slot() as third:
            assert (first, second, third) == (True, True, False)
    with waits.slot() as again:
        assert again


def test_a_held_wait_limit_of_zero_never_holds():
    with HeldWaits(0).slot() as held:
        assert held is False
