"""Load test: 200 renders from 20 concurrent clients; every job must reach a final state.

Each client POSTs ``/v1/renders`` (honouring ``429`` + ``Retry-After`` by waiting and retrying),
then polls ``GET /v1/renders/{id}`` until the job is final (bounded). Prints finished / failed /
lost (lost = never reached a final state in time, or vanished: a 404 while polling — must be 0),
the number of 429 answers, and p50/p95 latency from first submission to the client seeing
``finished`` (so 429 waits count), plus the server's own created → finished time.

Usage::

    .venv/bin/python bench/load.py                  # against `make run` (http://127.0.0.1:8080)
    .venv/bin/python bench/load.py --start          # its own stack (bench/_stack.py, 2 workers)
    .venv/bin/python bench/load.py --start --gov-every 5 --max-queue 10
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack  # noqa: E402

FINAL = ("finished", "failed", "cancelled")
POLL_SECONDS = 0.1
"""Seconds between two GETs of one job."""
JOB_DEADLINE_SECONDS = 600
"""Seconds after its first submission a job may take before it counts as lost."""
REQUEST_TIMEOUT = 30
"""Seconds one HTTP request may take."""


def request(method: str, url: str, body: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as r:
            return r.status, json.loads(r.read() or b"{}"), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw[:200].decode(errors="replace")}
        return e.code, payload, dict(e.headers)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.too_many = 0
        self.other_errors: list[str] = []


def one_job(url: str, body: dict, counters: Counters) -> dict:
    """Submit (retrying 429s), then poll until final or the deadline; returns an outcome record."""
    t0 = time.monotonic()
    deadline = t0 + JOB_DEADLINE_SECONDS
    while True:
        try:
            status, doc, headers = request("POST", url + "/v1/renders", body)
        except OSError as exc:
            status, doc, headers = 0, {"detail": str(exc)}, {}
        if status == 202:
            posted = time.monotonic() - t0
            break
        if status in (429, 503) and time.monotonic() < deadline:
            if status == 429:
                with counters.lock:
                    counters.too_many += 1
            time.sleep(float(headers.get("Retry-After", 1)))
            continue
        with counters.lock:
            counters.other_errors.append(f"POST {status}: {doc.get('detail', doc)}")
        return {"outcome": "lost", "reason": f"POST {status}"}
    job_id = doc["id"]
    while time.monotonic() < deadline:
        try:
            status, doc, _ = request("GET", f"{url}/v1/renders/{job_id}")
        except OSError:
            time.sleep(POLL_SECONDS)
            continue
        if status == 404:
            return {"outcome": "lost", "reason": "vanished (404)", "id": job_id}
        if status == 200 and doc["status"] in FINAL:
            seen = time.monotonic() - t0
            server = None
            if doc.get("finished_at") and doc.get("created_at"):
                parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
                server = (parse(doc["finished_at"]) - parse(doc["created_at"])).total_seconds()
            return {"outcome": doc["status"], "latency": seen, "server": server, "id": job_id, "post": posted,
                    "template": doc["template"]["name"], "error": doc.get("error")}
        time.sleep(POLL_SECONDS)
    return {"outcome": "lost", "reason": "no final state in time", "id": job_id}


def run(url: str, renders: int, clients: int, gov_every: int, warm_up: bool = True) -> int:
    invoice = json.loads((ROOT / "templates" / "invoice" / "sample.json").read_text(encoding="utf-8"))
    gov = json.loads((ROOT / "templates" / "gov-info-annual-report-2019" / "sample.json").read_text(encoding="utf-8"))
    bodies = []
    for i in range(renders):
        if gov_every and i % gov_every == gov_every - 1:
            bodies.append({"template": "gov-info-annual-report-2019", "data": gov, "formats": ["pdf"]})
        else:
            bodies.append({"template": "invoice", "data": invoice, "formats": ["pdf"]})
    if warm_up:
        # The API seeds the bundled templates on its first template request (about 1 s alone;
        # ~21 s when 20 cold requests all do it at once, see the report). Measure steady state.
        t = time.monotonic()
        status, _, _ = request("GET", url + "/v1/templates")
        print(f"warm-up GET /v1/templates: HTTP {status} in {(time.monotonic() - t) * 1000:.0f} ms")
    counters = Counters()
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda b: one_job(url, b, counters), bodies))
    wall = time.monotonic() - t0

    by = {k: [r for r in results if r["outcome"] == k] for k in ("finished", "failed", "cancelled", "lost")}
    done = by["finished"]
    latencies = [r["latency"] for r in done]
    server = [r["server"] for r in done if r["server"] is not None]
    print(f"{renders} renders, {clients} concurrent clients, {url}"
          f" ({sum(1 for b in bodies if b['template'] == 'invoice')} invoice,"
          f" {sum(1 for b in bodies if b['template'] != 'invoice')} gov-info-annual-report-2019)")
    print(f"finished {len(done)}  failed {len(by['failed'])}  cancelled {len(by['cancelled'])}  "
          f"lost {len(by['lost'])}  429s {counters.too_many}")
    if latencies:
        print(f"latency submit→finished (client): p50 {percentile(latencies, 50) * 1000:.0f} ms  "
              f"p95 {percentile(latencies, 95) * 1000:.0f} ms  max {max(latencies) * 1000:.0f} ms")
        print(f"latency created→finished (server): p50 {percentile(server, 50) * 1000:.0f} ms  "
              f"p95 {percentile(server, 95) * 1000:.0f} ms")
    if done:
        posts = [r["post"] for r in done]
        print(f"POST (accept) time: p50 {percentile(posts, 50) * 1000:.0f} ms  "
              f"p95 {percentile(posts, 95) * 1000:.0f} ms  max {max(posts) * 1000:.0f} ms")
    print(f"wall {wall:.1f} s, throughput {len(done) / wall:.2f} jobs/s")
    for r in by["failed"][:3]:
        print("failed:", r["id"], (r.get("error") or {}).get("detail"))
    for r in by["lost"][:5]:
        print("lost:", r.get("id"), r["reason"])
    for e in counters.other_errors[:5]:
        print("error:", e)
    return 0 if not by["lost"] and not by["failed"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="a running wenshu API")
    parser.add_argument("--start", action="store_true", help="start a stack of our own (2 workers)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes with --start")
    parser.add_argument("--max-queue", type=int, help="WENSHU_MAX_QUEUE of the stack --start starts")
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--gov-every", type=int, default=0,
                        help="make every Nth render the 7-page gov report (0: invoices only)")
    parser.add_argument("--cold", action="store_true", help="no warm-up request before the clock starts")
    args = parser.parse_args()
    if not args.start:
        return run(args.url, args.renders, args.clients, args.gov_every, not args.cold)
    stack = Stack(workers=args.workers)
    if args.max_queue:
        stack.env["WENSHU_MAX_QUEUE"] = str(args.max_queue)
    with stack:
        return run(stack.url, args.renders, args.clients, args.gov_every, not args.cold)


if __name__ == "__main__":
    sys.exit(main())
