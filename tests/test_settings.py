"""Settings: one source, read from the environment, every bad value reported at once.

An operator who starts the service with three mistakes should learn about all three from one
attempt, each named by the variable they set, not discover them one restart at a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, documented, env_name


def test_every_bad_value_is_reported_in_one_error():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"WENSHU_PORT": "eighty", "WENSHU_MAX_QUEUE": "0", "WENSHU_ENV": "staging",
                           "WENSHU_WEBHOOK_ALLOW_PRIVATE": "perhaps"})
    detail = caught.value.detail
    for variable in ("WENSHU_PORT", "WENSHU_MAX_QUEUE", "WENSHU_ENV", "WENSHU_WEBHOOK_ALLOW_PRIVATE"):
        assert variable in detail, detail
    assert len(caught.value.errors) == 4


def test_variable_names_come_from_the_field_names():
    assert env_name("max_queue") == "WENSHU_MAX_QUEUE"
    assert env_name("max_held_waits") == "WENSHU_MAX_HELD_WAITS"
    assert env_name("redis_url") == "REDIS_URL"  # the one conventional name


@pytest.mark.parametrize(("variable", "raw", "field", "value"), [
    ("WENSHU_MAX_WAIT", "15", "max_wait", 15),
    ("WENSHU_JSON_MAX_DEPTH", "8", "json_max_depth", 8),
    ("WENSHU_CONVERT_TIMEOUT", "2.5", "convert_timeout", 2.5),
    ("WENSHU_API_KEYS", " a, b ,,c ", "api_keys", ("a", "b", "c")),
    ("WENSHU_WEBHOOK_ALLOW_PRIVATE", "yes", "webhook_allow_private", True),
    ("WENSHU_TEMPLATES_DIR", "/srv/templates", "templates_dir", Path("/srv/templates")),
    ("REDIS_URL", "redis://redis:6379/2", "redis_url", "redis://redis:6379/2"),
])
def test_each_kind_of_value_is_parsed(variable, raw, field, value):
    assert getattr(Settings.from_env({variable: raw}), field) == value


def test_empty_variables_keep_the_defaults():
    assert Settings.from_env({"WENSHU_PORT": "", "REDIS_URL": ""}) == Settings()


def test_every_setting_is_documented_with_a_sentence():
    rows = documented()
    assert len({variable for variable, *_ in rows}) == len(rows)
    assert all(doc.strip().endswith(".") for *_, doc in rows)


def test_the_job_timeout_covers_a_render_and_a_retried_conversion_at_its_cap():
    s = Settings(render_timeout=5, convert_timeout=120)
    assert s.max_convert_timeout == 240
    assert s.job_timeout >= s.render_timeout + 2 * s.max_convert_timeout
