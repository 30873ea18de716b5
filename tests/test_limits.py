"""Templates and data that would hog a worker are stopped with a reason, and the worker goes on.

The worker runs with WENSHU_RENDER_TIMEOUT=2 and WENSHU_MAX_OUTPUT=200000, as an operator would
set them; each test checks what the integrator reads on the job, then that the same worker
process renders the next job.
"""

from __future__ import annotations

import json

import pytest

from conftest import private_redis, start_workers, stop_process_tree
from faultkit import post_adhoc, table_data, table_template, worker_pids
from helpers import docx_with, pdf_text
from service.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_OUTPUT = 200_000
PEAK_RSS_LIMIT_KB = 600 * 1024
"""A worker that built a 1 GB string would show it here (VmHWM: the process's peak resident size,
reset before each measured job so earlier tests cannot count)."""


@pytest.fixture(scope="module")
def limited(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, "limits", render_timeout=2, max_output=MAX_OUTPUT) as env:
        workers = start_workers(env, 1, WENSHU_RENDER_TIMEOUT="2", WENSHU_MAX_OUTPUT=str(MAX_OUTPUT))
        yield env, create_app(env).test_client()
        stop_process_tree(workers)


def _render(api, template: bytes, data: dict) -> dict:
    r = post_adhoc(api, template, data, query="?wait=60")
    assert r.status_code in (200, 202), r.get_json()
    doc = r.get_json()
    assert doc["status"] in ("finished", "failed"), doc
    return doc


def _worker_still_renders(env, api, pid_before: dict) -> None:
    doc = _render(api, docx_with("next job {{ n }}"), {"n": 42})
    assert doc["status"] == "finished", doc
    assert "next job 42" in pdf_text(api.get(doc["files"][0]["url"]).data)
    assert worker_pids(env) == pid_before, "the same worker process rendered the next job"


def _memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(f"{field}:"))


def _reset_peak_rss(pid: int) -> None:
    """Make VmHWM start again from the current resident size (Linux ≥ 4.0: ``clear_refs`` 5),
    so the next reading is the peak of the job that runs in between, whatever ran before."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    assert _memory_kb(pid, "VmHWM") <= _memory_kb(pid, "VmRSS") + 1024, "the peak was reset"


def test_template_that_loops_forever_is_stopped_by_the_render_time_limit(limited):
    env, api = limited
    pids = worker_pids(env)
    template = docx_with("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}"
                                  "{% endfor %}{% endfor %}")
    doc = _render(api, template, {})
    assert doc["status"] == "failed"
    assert doc["error"]["status"] == 422
    assert "more than 2 s of CPU time" in doc["error"]["detail"]
    assert "WENSHU_RENDER_TIMEOUT" in doc["error"]["detail"]
    _worker_still_renders(env, api, pids)


def test_output_over_max_output_fails_naming_the_limit(limited):
    env, api = limited
    pids = worker_pids(env)
    doc = _render(api, table_template(), table_data(300))
    assert doc["status"] == "failed"
    assert doc["error"]["status"] == 422
    assert f"over the {MAX_OUTPUT}-byte limit" in doc["error"]["detail"]
    assert doc["files"] == []
    _worker_still_renders(env, api, pids)


@pytest.mark.parametrize("template, data", [
    ("{{ 'x' * 10**9 }}", {}),
    ("{{ s * n }}", {"s": "ab", "n": 500_000_000}),
    ("{{ (items * n) | length }}", {"items": [1, 2, 3], "n": 400_000_000}),
], ids=["literal", "from-data", "list"])
def test_repetition_bomb_fails_cleanly_without_eating_memory(limited, template, data):
    env, api = limited
    pids = worker_pids(env)
    (pid,) = pids.values()
    _reset_peak_rss(pid)
    doc = _render(api, docx_with(template), data)
    assert doc["status"] == "failed"
    assert doc["error"]["status"] == 422
    assert "over the 1000000-item limit" in doc["error"]["detail"]
    assert _memory_kb(pid, "VmHWM") < PEAK_RSS_LIMIT_KB
    _worker_still_renders(env, api, pids)


def test_json_nested_past_the_limit_is_rejected_with_400(limited):
    env, api = limited
    data: dict = {}
    for _ in range(env.json_max_depth + 10):
        data = {"a": data}
    r = api.post("/v1/renders", data=json.dumps({"template": "invoice", "data": data}),
                 content_type="application/json")
    assert r.status_code == 400
    assert r.mimetype == "application/problem+json"
    assert f"the limit is {env.json_max_depth}" in r.get_json()["detail"]


@pytest.mark.parametrize("template", [
    "{{ 'x' | center(10**10) }}",
    "{{ '%*d' % (10**10, 1) }}",
    "{{ '{:>10000000000}'.format(1) }}",
], ids=["filter", "percent-format", "format-method"])
def test_allocation_bomb_hits_the_worker_memory_cap_and_the_worker_goes_on(limited, template):
    env, api = limited
    pids = worker_pids(env)
    doc = _render(api, docx_with(template), {})
    assert doc["status"] == "failed", doc
    assert doc["error"]["status"] == 422
    assert "WENSHU_WORKER_MEMORY" in doc["error"]["detail"] or "unsafe" in doc["error"]["detail"].lower()
    _worker_still_renders(env, api, pids)
