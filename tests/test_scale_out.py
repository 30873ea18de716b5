"""Scale-out: the API and worker groups share nothing but a Redis URL.

Each process tree (the API under waitress, worker group A, worker group B) runs in its own
working directory with its own TMPDIR; the worker groups get an empty ``WENSHU_TEMPLATES_DIR``,
so the only way a template reaches them is through Redis. A template uploaded to the API
while only group A exists is then rendered after A has stopped, by B, which started later.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from docx import Document
from redis import Redis
from rq import Worker

from conftest import start_redis, stop_process_tree
from core.settings import PROJECT_ROOT
from helpers import free_port, pdf_text, squash

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

START_SECONDS = 120
"""Seconds a process tree may take to become ready (LibreOffice start included)."""


def http(method: str, url: str, body: bytes | None = None, content_type: str | None = None,
         timeout: float = 90) -> tuple[int, bytes, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers.get_content_type()
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get_content_type()


def multipart(fields: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, (filename, data, ctype) in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f"Content-Type: {ctype}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def isolated(home: Path, redis_url: str, **extra: str) -> dict:
    """Environment of one process tree: its own temp dir and templates dir, the shared Redis URL."""
    (home / "tmp").mkdir(parents=True)
    (home / "templates").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WENSHU_")}
    env.update(REDIS_URL=redis_url, TMPDIR=str(home / "tmp"), WENSHU_ENV="test", WENSHU_LOG_LEVEL="WARNING",
               WENSHU_TEMPLATES_DIR=str(home / "templates"), **extra)
    return env


def spawn(home: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], env=env, cwd=home,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=open(home / "stderr.log", "ab"))


def ready_workers(api: str) -> int:
    try:
        status, body, _ = http("GET", api + "/readyz", timeout=5)
    except OSError:
        return -1
    return json.loads(body).get("workers", 0) if status in (200, 503) and body else -1


def wait_for_workers(api: str, count: int, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if ready_workers(api) == count:
            return
        assert proc is None or proc.poll() is None, "a process tree exited during start-up"
        time.sleep(0.2)
    raise AssertionError(f"/readyz never reported {count} live workers")


def rq_worker_names(redis: Redis, count: int) -> set[str]:
    """Names of the registered RQ workers once there are ``count`` of them.

    A worker marks its LibreOffice alive (what /readyz counts) just before RQ registers it.
    """
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        names = {w.name for w in Worker.all(connection=redis)}
        if len(names) == count:
            return names
        time.sleep(0.1)
    raise AssertionError(f"RQ never listed {count} workers")


@pytest.fixture()
def cluster(tmp_path):
    """Redis + API + worker group A; yields a dict the test adds group B to. Stops every tree."""
    redis_proc, redis_url = start_redis(tmp_path)
    procs: list[subprocess.Popen] = []
    port = free_port()
    api_home, a_home = tmp_path / "api", tmp_path / "group-a"
    api_env = isolated(api_home, redis_url, WENSHU_PORT=str(port))
    # The API alone reads the bundled templates (it seeds Redis with them).
    api_env["WENSHU_TEMPLATES_DIR"] = str(PROJECT_ROOT / "templates")
    api = spawn(api_home, api_env, "serve", "--threads", "8")
    procs.append(api)
    group_a = spawn(a_home, isolated(a_home, redis_url), "worker", "--processes", "1")
    procs.append(group_a)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_workers(url, 1, group_a)
        yield {"url": url, "redis_url": redis_url, "a": group_a, "procs": procs, "tmp": tmp_path}
    finally:
        for proc in reversed(procs):
            stop_process_tree(proc)
        redis_proc.terminate()
        redis_proc.wait(10)


def probe_template(token: str) -> bytes:
    document = Document()
    document.add_paragraph("Scale-out probe {{ greeting }} " + token)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_template_uploaded_to_the_api_is_rendered_by_a_worker_that_never_saw_it(cluster):
    url, redis = cluster["url"], Redis.from_url(cluster["redis_url"])
    token = uuid.uuid4().hex[:10]
    name = f"probe-{token}"
    body, ctype = multipart({"file": ("probe.docx", probe_template(token), "application/octet-stream")})
    status, answer, _ = http("PUT", f"{url}/v1/templates/{name}", body, ctype)
    assert status == 201, answer
    version = json.loads(answer)["version"]

    a_names = rq_worker_names(redis, 1)

    # Group B starts only now, in its own directory, knowing nothing but the Redis URL.
    b_home = cluster["tmp"] / "group-b"
    group_b = spawn(b_home, isolated(b_home, cluster["redis_url"]), "worker", "--processes", "1")
    cluster["procs"].append(group_b)
    wait_for_workers(url, 2, group_b)
    b_names = rq_worker_names(redis, 2) - a_names
    assert len(b_names) == 1

    stop_process_tree(cluster["a"])
    wait_for_workers(url, 1)
    assert rq_worker_names(redis, 1) == b_names, "group A left, group B remains"
    b_worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + b_names.pop(), connection=redis)
    assert b_worker.successful_job_count == 0

    render = {"template": name, "data": {"greeting": "你好"}, "formats": ["pdf"]}
    status, answer, _ = http("POST", f"{url}/v1/renders?wait=60", json.dumps(render).encode(),
                             "application/json")
    doc = json.loads(answer)
    assert status == 200 and doc["status"] == "finished", doc
    assert doc["template"] == {"name": name, "version": version}
    status, pdf, ctype = http("GET", url + doc["files"][0]["url"])
    assert status == 200 and ctype == "application/pdf"
    assert f"Scale-outprobe你好{token}" in squash(pdf_text(pdf))

    # The only worker alive is B, and its RQ record counts the job (RQ updates the count just
    # after our job document says "finished", so allow it a moment).
    deadline = time.monotonic() + 10
    b_worker.refresh()
    while b_worker.successful_job_count == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        b_worker.refresh()
    assert b_worker.successful_job_count == 1
    assert [w.name for w in Worker.all(connection=redis)] == [b_worker.name]
    # Nothing of the upload exists on B's disk: its templates dir is still empty.
    assert list((b_home / "templates").iterdir()) == []
