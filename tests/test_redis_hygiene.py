"""A Redis whose eviction policy could drop wenshu's keys is named in the API's and the pool's logs."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid

import pytest
from redis import Redis

from conftest import private_redis, stop_process_tree, worker_env
from core.redis_checks import eviction_warning
from core.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def evicting(tmp_path_factory, settings):
    """Settings on a Redis of this module's own, set to evict any key when full."""
    with private_redis(tmp_path_factory, settings, f"hygiene-{uuid.uuid4().hex[:6]}") as private:
        redis = Redis.from_url(private.redis_url)
        redis.config_set("maxmemory", "512mb")
        redis.config_set("maxmemory-policy", "allkeys-lru")
        yield private


def test_each_eviction_policy_is_judged_by_what_it_could_drop(evicting):
    redis = Redis.from_url(evicting.redis_url)
    warning = eviction_warning(redis)
    assert "allkeys-lru" in warning and "536870912 bytes" in warning and "queued jobs" in warning
    redis.config_set("maxmemory-policy", "volatile-ttl")
    assert "job documents" in eviction_warning(redis) and "queued" not in eviction_warning(redis)
    redis.config_set("maxmemory-policy", "noeviction")
    assert eviction_warning(redis) is None
    redis.config_set("maxmemory-policy", "allkeys-lru")


def test_an_unreachable_redis_is_no_reason_to_warn():
    assert eviction_warning(Redis(port=1, socket_connect_timeout=1)) is None


def test_the_api_warns_at_start_when_queue_keys_could_be_evicted(evicting, caplog):
    from service.app import create_app

    with caplog.at_level(logging.WARNING, logger="wenshu.api"):
        create_app(evicting)
    assert any("maxmemory-policy is allkeys-lru" in r.getMessage() for r in caplog.records)


def test_the_worker_pool_warns_at_start_when_queue_keys_could_be_evicted(evicting):
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "worker", "--processes", "1"],
                            env=worker_env(evicting), cwd=PROJECT_ROOT, start_new_session=True,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline, seen = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if "maxmemory-policy is allkeys-lru" in line or not line:
                break
        assert "maxmemory-policy is allkeys-lru" in seen[-1], seen
    finally:
        stop_process_tree(proc)
