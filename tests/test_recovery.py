"""recover_jobs and sweep_orphans against a real Redis and real RQ jobs, no LibreOffice.

Each test enqueues a real RQ job, has a (never running) RQ worker take it the way RQ itself does
(an execution in the started registry, the job marked started with the worker's name), writes the
job document the API would have written, and then plays the part of the pool: a worker died, or
stopped reporting. What is checked is what RQ and a client would see afterwards: the job back in
the queue with its retry used, or failed with a reason on its document, or left alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue, Retry
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.worker import SimpleWorker

from conftest import private_redis
from core.keys import Keys
from core.payload import JobDocument
from core.settings import Settings
from core.stores import JobStore, now_iso
from worker.runner import ALIVE_TTL_SECONDS, recover_jobs, sweep_orphans


@pytest.fixture(scope="module")
def redis_env(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, "recovery") as env:
        yield env


@pytest.fixture()
def env(redis_env) -> Settings:
    """A queue and key prefix of this test's own, so no test sees another's jobs."""
    name = f"recovery-{uuid.uuid4().hex[:8]}"
    return redis_env.with_(queue=name, key_prefix=name)


@pytest.fixture()
def redis(env) -> Redis:
    return Redis.from_url(env.redis_url)


def enqueue(redis: Redis, env: Settings) -> str:
    """A render job as the API queues it (Retry(max=1)) with its job document."""
    job_id = uuid.uuid4().hex
    JobStore(redis, Keys(env.key_prefix), env.result_ttl).create(
        JobDocument(id=job_id, template={"name": "invoice", "version": "v1"}, formats=["pdf"],
                    created_at=now_iso()))
    Queue(env.queue, connection=redis).enqueue(
        "worker.jobs.render_job", {"id": job_id}, job_id=job_id, result_ttl=0,
        failure_ttl=env.result_ttl, retry=Retry(max=1))
    return job_id


def take(redis: Redis, env: Settings, worker_name: str, started_ago: float = 0.0) -> Job:
    """Let the worker named ``worker_name`` dequeue the next job and start it, as RQ does."""
    queue = Queue(env.queue, connection=redis)
    job, _ = Queue.dequeue_any([queue], None, connection=redis)
    worker = SimpleWorker([queue], connection=redis, name=worker_name)
    worker.prepare_execution(job)
    worker.prepare_job_execution(job)
    if started_ago:
        job.started_at = datetime.now(UTC) - timedelta(seconds=started_ago)
        job.save()
    JobStore(redis, Keys(env.key_prefix), env.result_ttl).update(job.id, status="started",
                                                                  started_at=now_iso())
    return job


def mark_alive(redis: Redis, env: Settings, worker_name: str) -> None:
    redis.set(Keys(env.key_prefix).lo_alive(worker_name), 1, ex=ALIVE_TTL_SECONDS)


def started_ids(redis: Redis, env: Settings) -> list[str]:
    return StartedJobRegistry(env.queue, connection=redis).get_job_ids(cleanup=False)


def document(redis: Redis, env: Settings, job_id: str) -> JobDocument:
    doc = JobStore(redis, Keys(env.key_prefix), env.result_ttl).get(job_id)
    assert doc is not None
    return doc


def test_job_of_a_dead_worker_with_a_retry_left_is_requeued_at_once(redis, env):
    job_id = enqueue(redis, env)
    take(redis, env, "dead-worker")
    assert started_ids(redis, env) == [job_id]

    assert recover_jobs(redis, env, "dead-worker") == [job_id]

    job = Job.fetch(job_id, connection=redis)
    assert job.get_status() == "queued"
    assert job.retries_left == 0, "the retry was used"
    assert Queue(env.queue, connection=redis).job_ids == [job_id]
    assert started_ids(redis, env) == []
    assert document(redis, env, job_id).status == "started", "not failed: it runs again"


def test_job_that_killed_two_workers_is_failed_and_its_document_says_why(redis, env):
    job_id = enqueue(redis, env)
    take(redis, env, "first-victim")
    recover_jobs(redis, env, "first-victim")
    take(redis, env, "second-victim")

    assert recover_jobs(redis, env, "second-victim") == [job_id]

    assert Job.fetch(job_id, connection=redis).get_status() == "failed"
    assert job_id in FailedJobRegistry(env.queue, connection=redis).get_job_ids()
    assert Queue(env.queue, connection=redis).job_ids == []
    doc = document(redis, env, job_id)
    assert doc.status == "failed"
    assert doc.finished_at
    assert doc.error["status"] == 502
    assert "worker process died twice" in doc.error["detail"]


def test_recovering_a_worker_that_ran_nothing_touches_no_job(redis, env):
    job_id = enqueue(redis, env)
    take(redis, env, "busy-worker")
    assert recover_jobs(redis, env, "idle-worker") == []
    assert started_ids(redis, env) == [job_id]
    assert Job.fetch(job_id, connection=redis).get_status() == "started"


def test_sweep_recovers_only_the_job_whose_worker_stopped_reporting(redis, env):
    silent = enqueue(redis, env)
    take(redis, env, "silent-worker", started_ago=ALIVE_TTL_SECONDS + 30)
    reporting = enqueue(redis, env)
    take(redis, env, "reporting-worker", started_ago=ALIVE_TTL_SECONDS + 30)
    mark_alive(redis, env, "reporting-worker")

    assert sweep_orphans(redis, env) == [silent]

    assert Queue(env.queue, connection=redis).job_ids == [silent]
    assert Job.fetch(silent, connection=redis).retries_left == 0
    assert started_ids(redis, env) == [reporting]
    assert Job.fetch(reporting, connection=redis).get_status() == "started"


def test_sweep_leaves_a_job_started_moments_ago_to_a_worker_not_yet_marked(redis, env):
    # A worker marks itself alive within a second of taking its first job; a sweep in that
    # second must not steal the job.
    job_id = enqueue(redis, env)
    take(redis, env, "new-worker")
    assert sweep_orphans(redis, env) == []
    assert started_ids(redis, env) == [job_id]
