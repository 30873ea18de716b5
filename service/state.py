"""What the API keeps for its lifetime, built once by ``create_app`` (Flask's app.extensions)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis
from rq import Queue

from core.keys import Keys
from core.result_stores import ResultStore, build_result_store
from core.settings import Settings
from core.stores import JobStore, TemplateStore

from .registry import Registry


@dataclass
class ServiceState:
    settings: Settings
    redis: Redis
    keys: Keys
    queue: Queue
    jobs: JobStore
    results: ResultStore
    templates: TemplateStore
    registry: Registry

    @classmethod
    def build(cls, settings: Settings) -> ServiceState:
        # Short socket timeouts: when Redis is gone, answer 503 quickly instead of hanging.
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2,
                               health_check_interval=10, retry_on_timeout=False)
        keys = Keys(settings.key_prefix)
        templates = TemplateStore(redis, keys)
        return cls(settings=settings, redis=redis, keys=keys,
                   queue=Queue(settings.queue, connection=redis),
                   jobs=JobStore(redis, keys, settings.result_ttl), results=build_result_store(settings, redis),
                   templates=templates, registry=Registry(templates, settings.templates_dir, settings.rule_timeout))


def state() -> ServiceState:
    """The running app's state."""
    return current_app.extensions["wenshu"]
