"""Scale-out, shown: an API and worker groups that share nothing but a Redis URL; capacity per worker.

Every process tree (Redis, ``wenshu serve``, worker group A, worker group B) runs in its own
temporary working directory with its own TMPDIR; the worker groups get an *empty*
``WENSHU_TEMPLATES_DIR``, so templates can only reach them through Redis.

1. Start Redis, the API and group A (1 worker). Upload a new template with ``PUT /v1/templates``.
2. Start group B (1 worker) — after the upload — then stop group A.
3. Render the uploaded template: it finishes, and RQ's record of B's worker counts the job.
4. Capacity: N renders of the bundled ``gov-info-annual-report-2019`` sample (PDF) submitted at
   once to 1 worker, then again with group A restarted (2 workers in 2 groups). Prints jobs/s,
   measured server-side from the first job's start to the last job's end.

Usage: ``.venv/bin/python bench/scale_out.py [--jobs 30]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from docx import Document
from redis import Redis
from rq import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack, free_port, http  # noqa: E402

TEMPLATE = "gov-info-annual-report-2019"
START_SECONDS = 120
"""Seconds a process tree may take to become ready."""
JOB_SECONDS = 600
"""Seconds the capacity runs may take in all."""


class Tree:
    """One process tree in its own directory, knowing only the Redis URL (and its port for the API)."""

    def __init__(self, root: Path, name: str, redis_url: str, *args: str, **env: str) -> None:
        self.home = root / name
        (self.home / "tmp").mkdir(parents=True)
        (self.home / "templates").mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith("WENSHU_")}
        base.update(REDIS_URL=redis_url, TMPDIR=str(self.home / "tmp"), WENSHU_LOG_LEVEL="WARNING",
                    WENSHU_TEMPLATES_DIR=str(self.home / "templates"), WENSHU_MAX_QUEUE="10000",
                    WENSHU_MAX_JOBS_PER_KEY="10000",  # one client submits every job: no per-key cap
                    WENSHU_RENDER_CACHE="0")  # the same report N times: each must really render
        base.update(env)
        self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args], env=base, cwd=self.home,
                                     start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=open(self.home / "stderr.log", "ab"))

    def stop(self) -> None:
        Stack.stop_proc(self.proc)


def workers_ready(api: str) -> int:
    try:
        status, body = http("GET", api + "/readyz", timeout=5)
        return json.loads(body).get("workers", 0) if body else -1
    except (OSError, ValueError):
        return -1


def wait_workers(api: str, count: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if workers_ready(api) == count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"/readyz never reported {count} workers")


def rq_workers(redis: Redis, count: int) -> set[str]:
    """Registered RQ worker names once there are ``count`` (RQ registers just after /readyz counts)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        names = {w.name for w in Worker.all(connection=redis)}
        if len(names) == count:
            return names
        time.sleep(0.1)
    raise RuntimeError(f"RQ never listed {count} workers")


def put_template(api: str, name: str, docx: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.docx"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + docx + f"\r\n--{boundary}--\r\n".encode()
    import urllib.request

    req = urllib.request.Request(f"{api}/v1/templates/{name}", data=body, method="PUT",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201, r.status
        return json.loads(r.read())


def probe_docx(token: str) -> bytes:
    document = Document()
    document.add_paragraph("Scale-out probe {{ greeting }} " + token)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def capacity(api: str, jobs: int, data: dict) -> tuple[float, float, int]:
    """Submit ``jobs`` renders at once; return (jobs/s server-side, median convert ms, failures)."""
    def submit(_):
        status, body = http("POST", api + "/v1/renders", {"template": TEMPLATE, "data": data, "formats": ["pdf"]})
        assert status == 202, body
        return json.loads(body)["id"]

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(submit, range(jobs)))
    deadline = time.monotonic() + JOB_SECONDS
    docs: dict[str, dict] = {}
    while len(docs) < jobs and time.monotonic() < deadline:
        for job_id in ids:
            if job_id not in docs:
                doc = json.loads(http("GET", f"{api}/v1/renders/{job_id}")[1])
                if doc["status"] in ("finished", "failed"):
                    docs[job_id] = doc
        time.sleep(0.2)
    if len(docs) < jobs:
        raise RuntimeError(f"only {len(docs)} of {jobs} jobs ended within {JOB_SECONDS} s")
    done = [d for d in docs.values() if d["status"] == "finished"]
    span = (max(_time(d["finished_at"]) for d in done) - min(_time(d["started_at"]) for d in done)).total_seconds()
    convert = statistics.median(d["timings_ms"].get("convert", 0) for d in done)
    return len(done) / span, convert, jobs - len(done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30, help="renders per capacity run")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wenshu-scale-out-"))
    redis_port, api_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    api = f"http://127.0.0.1:{api_port}"
    (root / "redis").mkdir()
    redis_proc = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(root / "redis")],
                                  stdout=subprocess.DEVNULL, start_new_session=True)
    trees: list[Tree] = []
    try:
        time.sleep(0.3)
        redis = Redis.from_url(redis_url)
        # Only the API reads the bundled templates folder (it seeds Redis from it).
        trees.append(Tree(root, "api", redis_url, "serve", "--threads", "32", WENSHU_PORT=str(api_port),
                          WENSHU_TEMPLATES_DIR=str(ROOT / "templates")))
        group_a = Tree(root, "group-a", redis_url, "worker", "--processes", "1")
        trees.append(group_a)
        wait_workers(api, 1)
        a_names = rq_workers(redis, 1)

        token = uuid.uuid4().hex[:10]
        name = f"probe-{token}"
        uploaded = put_template(api, name, probe_docx(token))
        print(f"uploaded {name}@{uploaded['version']} to the API (group A: {sorted(a_names)})")

        group_b = Tree(root, "group-b", redis_url, "worker", "--processes", "1")
        trees.append(group_b)
        wait_workers(api, 2)
        b_names = rq_workers(redis, 2) - a_names
        group_a.stop()
        trees.remove(group_a)
        wait_workers(api, 1)
        rq_workers(redis, 1)
        status, body = http("POST", f"{api}/v1/renders?wait=60",
                            {"template": name, "data": {"greeting": "hello"}, "formats": ["pdf"]})
        doc = json.loads(body)
        # RQ counts the success just after our job document says "finished": give it a moment.
        deadline = time.monotonic() + 10
        while True:
            ran = {w.name: w.successful_job_count for w in Worker.all(connection=redis)}
            if sum(ran.values()) >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        print(f"group A stopped; render of {name}: HTTP {status}, status {doc['status']}, "
              f"{doc['files'][0]['size'] if doc['files'] else 0} PDF bytes")
        print(f"workers alive: {ran} (group B started after the upload: {sorted(b_names)})")
        print(f"group B's templates dir after the render: {sorted(os.listdir(group_b.home / 'templates'))}")
        ok = doc["status"] == "finished" and set(ran) == b_names and sum(ran.values()) == 1
        print("SCALE-OUT:", "shown" if ok else "NOT shown")

        sample = json.loads((ROOT / "templates" / TEMPLATE / "sample.json").read_text(encoding="utf-8"))
        capacity(api, 2, sample)  # warm-up (first-use costs: template cache, fonts)
        rate1, conv1, failed1 = capacity(api, args.jobs, sample)
        print(f"capacity, 1 worker : {rate1:.2f} jobs/s ({TEMPLATE}, {args.jobs} jobs, "
              f"median convert {conv1:.0f} ms, failed {failed1})")
        trees.append(Tree(root, "group-a2", redis_url, "worker", "--processes", "1"))
        wait_workers(api, 2)
        capacity(api, 2, sample)
        rate2, conv2, failed2 = capacity(api, args.jobs, sample)
        print(f"capacity, 2 workers in 2 groups: {rate2:.2f} jobs/s (median convert {conv2:.0f} ms, "
              f"failed {failed2}); speed-up {rate2 / rate1:.2f}x on {os.cpu_count()} CPUs")
        return 0 if ok and not (failed1 or failed2) else 1
    finally:
        for tree in reversed(trees):
            tree.stop()
        Stack.stop_proc(redis_proc)


if __name__ == "__main__":
    sys.exit(main())
