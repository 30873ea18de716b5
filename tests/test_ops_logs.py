"""What an operator reads: JSON log lines on both sides, tied together by ids; metrics by template and problem."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis

from core.settings import PROJECT_ROOT
from tests.conftest import stop_process_tree, worker_env
from tests.helpers import docx_with, put_template

QUEUE, PREFIX = "opslogs", "opslogs"


@pytest.fixture(scope="module")
def ops(settings, tmp_path_factory):
    """An API and a worker group of their own (own queue and keys), the workers' stderr in a file."""
    from service.app import create_app

    own = settings.with_(queue=QUEUE, key_prefix=PREFIX)
    log_file = tmp_path_factory.mktemp("ops") / "worker.log"
    with log_file.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "worker", "--processes", "1"],
                                env=worker_env(own, WENSHU_LOG_LEVEL="INFO"), cwd=PROJECT_ROOT,
                                stderr=sink, start_new_session=True)
    redis = Redis.from_url(own.redis_url)
    deadline = time.monotonic() + 90
    while not list(redis.scan_iter(match=f"{PREFIX}:lo-alive:*")):
        assert time.monotonic() < deadline and proc.poll() is None, "worker did not start"
        time.sleep(0.1)
    api = create_app(own).test_client()
    put_template(api, "ops-div", docx_with("Ratio {{ a / b }}"))
    yield api, log_file, proc
    stop_process_tree(proc)


def _lines(log_file: Path) -> list[str]:
    return [line for line in log_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def _wait_for_line(log_file: Path, predicate, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in _lines(log_file):
            entry = json.loads(line)
            if predicate(entry):
                return entry
        time.sleep(0.1)
    raise AssertionError(f"no such worker log line; the log:\n{log_file.read_text()[-3000:]}")


def _render(api, data: dict, request_id: str):
    return api.post("/v1/renders?wait=60", json={"template": "ops-div", "data": data, "formats": ["docx"]},
                    headers={"X-Request-Id": request_id})


def test_one_render_is_found_by_its_request_id_on_the_api_and_worker_lines(ops, caplog):
    api, log_file, _ = ops
    with caplog.at_level(logging.INFO, logger="wenshu.api"):
        response = _render(api, {"a": 1, "b": 2}, "trace-ops-001")
    assert response.status_code == 200 and response.get_json()["status"] == "finished"
    job_id = response.get_json()["id"]
    api_line = [r for r in caplog.records if r.getMessage() == "request" and r.path == "/v1/renders"][-1]
    assert (api_line.request_id, api_line.job_id) == ("trace-ops-001", job_id)
    done = _wait_for_line(log_file, lambda e: e.get("msg") == "job finished" and e.get("job_id") == job_id)
    assert done["request_id"] == "trace-ops-001"


def test_a_failed_job_is_logged_as_failed_never_as_ok(ops):
    api, log_file, _ = ops
    response = _render(api, {"a": 1, "b": 0}, "trace-ops-002")
    assert response.get_json()["status"] == "failed"
    job_id = response.get_json()["id"]
    failed = _wait_for_line(log_file, lambda e: e.get("job_id") == job_id and e.get("msg", "").startswith("job failed"))
    assert failed["level"] == "WARNING" and failed["request_id"] == "trace-ops-002"
    time.sleep(0.5)   # RQ's own line about the job follows ours
    assert not [line for line in _lines(log_file) if "Job OK" in line or "Successfully completed" in line]


def test_every_worker_line_is_one_json_object_and_libreoffice_noise_stays_out(ops):
    api, log_file, _ = ops
    assert _render(api, {"a": 3, "b": 4}, "trace-ops-003").get_json()["status"] == "finished"
    lines = _lines(log_file)
    assert lines
    for line in lines:
        entry = json.loads(line)   # a plain-text line (a traceback, soffice's stderr) fails here
        assert {"ts", "level", "logger", "msg"} <= entry.keys()
    assert not [line for line in lines if "javaldx" in line]


def test_libreoffice_stderr_arrives_as_json_lines_of_its_own_logger():
    """Unit: what a child writes to stderr becomes JSON lines; known noise goes to DEBUG."""
    import io

    from core.logs import JsonFormatter, log_lines

    records: list[logging.LogRecord] = []
    logger = logging.getLogger("wenshu.libreoffice.test")
    logger.setLevel(logging.DEBUG)
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    stream = io.BytesIO(b"Warning: failed to launch javaldx - java may not function correctly\n"
                        b"Traceback (most recent call last):\n  File \"x\", line 1\n")
    log_lines(stream, logger, port=1234).join(5)
    assert [(r.levelname, r.getMessage()) for r in records][0][0] == "DEBUG"
    assert [r.levelname for r in records[1:]] == ["WARNING", "WARNING"]
    entry = json.loads(JsonFormatter().format(records[1]))
    assert entry["port"] == 1234 and entry["msg"] == "Traceback (most recent call last):"


def test_metrics_count_jobs_by_template_and_problem_and_show_queue_wait_and_memory(ops):
    api, _, _ = ops
    assert _render(api, {"a": 1, "b": 0}, "trace-ops-004").get_json()["status"] == "failed"
    text = api.get("/metrics").get_data(as_text=True)
    failed = [line for line in text.splitlines()
              if line.startswith("wenshu_jobs_total{") and 'outcome="failed"' in line]
    assert any('template="ops-div"' in line and 'problem="template-error"' in line for line in failed), failed
    assert "wenshu_queue_wait_seconds_bucket" in text
    rss = [line for line in text.splitlines() if line.startswith("wenshu_worker_rss_bytes{")]
    assert any('process="libreoffice"' in line and float(line.rsplit(" ", 1)[1]) > 10e6 for line in rss), rss


def test_readiness_polled_before_workers_exist_is_not_logged_as_an_error(settings, caplog):
    from service.app import create_app

    api = create_app(settings.with_(queue="opslogs-none", key_prefix="opslogs-none")).test_client()
    with caplog.at_level(logging.INFO):
        assert api.get("/readyz").status_code == 503
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _wenshu(*args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, **env}, timeout=60)


def test_a_bad_setting_is_one_line_naming_the_variable_and_the_accepted_values():
    result = _wenshu("serve", WENSHU_LOG_LEVEL="LOUD", WENSHU_MAX_QUEUE="many")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "WENSHU_LOG_LEVEL" in lines[0] and "DEBUG, INFO, WARNING, ERROR, CRITICAL" in lines[0]
    assert "WENSHU_MAX_QUEUE='many'" in lines[0] and "whole number" in lines[0]
    assert "Traceback" not in result.stderr and '"status"' not in result.stderr


def test_version_is_printed():
    result = _wenshu("--version")
    assert result.returncode == 0 and result.stdout.startswith("wenshu ")


def test_lint_text_is_one_line_per_problem_for_people(tmp_path):
    template = tmp_path / "t.docx"
    template.write_bytes(docx_with("{{ a.b }} {% if x %}"))
    text = _wenshu("lint", "--format", "text", str(template))
    assert text.returncode == 1
    first, summary = text.stdout.strip().splitlines()
    assert "word/document.xml ¶1: {% if x %}" in first and "endif" in first
    assert "1 problem(s)" in summary and "a.b" in summary
    machine = _wenshu("lint", str(template))
    assert json.loads(machine.stdout)["ok"] is False
