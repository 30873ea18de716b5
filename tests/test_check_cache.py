"""Ad-hoc template checks remembered by content (service/check_cache.py), against a real Redis."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis

import service.check_cache as check_cache
from core.errors import TemplateError, TemplateRejected
from core.keys import Keys
from helpers import docx_with


@pytest.fixture()
def store(settings):
    """A real Redis and key names of their own, so no test sees another's verdicts."""
    redis = Redis.from_url(settings.redis_url)
    yield redis, Keys(f"wenshu-test-{uuid.uuid4().hex[:8]}")
    redis.close()


@pytest.fixture()
def checks(monkeypatch) -> list[bytes]:
    """The templates the real check ran on, in order."""
    seen: list[bytes] = []
    real = check_cache.check_template

    def counting(docx: bytes):
        seen.append(docx)
        return real(docx)

    monkeypatch.setattr(check_cache, "check_template", counting)
    return seen


def test_bytes_that_passed_are_not_checked_again(store, checks):
    template = docx_with("你好，{{ name }}")
    for _ in range(3):
        check_cache.check_template_once(*store, template, ttl=60)
    assert checks == [template]


def test_other_bytes_are_checked_anew(store, checks):
    first, second = docx_with("{{ a }}"), docx_with("{{ b }}")
    for template in (first, second, first):
        check_cache.check_template_once(*store, template, ttl=60)
    assert checks == [first, second]


def test_a_template_with_tag_errors_is_refused_every_time(store, checks):
    broken = docx_with("{{ name ")
    for _ in range(2):
        with pytest.raises(TemplateError):
            check_cache.check_template_once(*store, broken, ttl=60)
    assert len(checks) == 2


def test_an_unreadable_template_is_refused_every_time(store, checks):
    for _ in range(2):
        with pytest.raises(TemplateRejected):
            check_cache.check_template_once(*store, b"PK\x03\x04 not really a zip", ttl=60)
    assert len(checks) == 2


def test_other_checking_code_does_not_trust_an_old_verdict(store, checks, monkeypatch):
    template = docx_with("{{ name }}")
    check_cache.check_template_once(*store, template, ttl=60)
    monkeypatch.setattr(check_cache, "CHECK_VERSION", "another-version")
    check_cache.check_template_once(*store, template, ttl=60)
    assert checks == [template, template]


def test_verdict_expires_with_the_ttl(store):
    redis, keys = store
    check_cache.check_template_once(redis, keys, docx_with("{{ x }}"), ttl=60)
    (key,) = redis.keys(f"{keys.prefix}:checked:*")
    assert 0 < redis.ttl(key) <= 60


def test_without_redis_the_template_is_still_checked(checks):
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    template = docx_with("{{ x }}")
    check_cache.check_template_once(unreachable, Keys(), template, ttl=60)
    with pytest.raises(TemplateError):
        check_cache.check_template_once(unreachable, Keys(), docx_with("{{ x "), ttl=60)
    assert len(checks) == 2


def test_a_repeat_in_the_same_process_needs_no_redis_round_trip(store, checks, settings):
    template = docx_with(f"本进程 {{{{ name }}}} {uuid.uuid4().hex}")
    redis, keys = store
    check_cache.check_template_once(redis, keys, template, ttl=60)
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens there
    check_cache.check_template_once(unreachable, keys, template, ttl=60)
    assert checks == [template]  # without the process's memory, Redis being down meant checking again


def test_the_process_memory_of_passes_is_bounded(store, checks, monkeypatch):
    monkeypatch.setattr(check_cache, "PASSED_KEPT", 2)
    for n in range(4):
        check_cache.check_template_once(*store, docx_with(f"{{{{ v{n} }}}} {uuid.uuid4().hex}"), ttl=60)
    assert len(check_cache._PASSED) <= 2  # noqa: SLF001
