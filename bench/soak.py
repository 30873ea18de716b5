"""Soak: N renders (default 10 000) on a running service; is anything growing?

Mixed work, as integrators send it: the invoice as DOCX and as PDF, the flagship annual report as
PDF + DOCX; half the clients hold ``?wait=``, the others POST and then wait with ``GET ?wait=``;
every tenth finished job is downloaded. Every N/10 renders (every 1 000 by default) it prints
the RSS of the API, of the worker processes (the pool's included) and of LibreOffice (everything
below a worker: its server, oosplash, soffice; read by ``worker.memory.memory_samples``, the walk the
worker's own metrics use), open file descriptors (API, pool and workers), Redis ``used_memory``
and the result store's size, then the growth per 1 000 renders of each between the first
checkpoint (after warm-up) and the last. It ends with the bytes one job keeps in Redis
(``MEMORY USAGE`` of each of its keys).

Usage::

    .venv/bin/python bench/soak.py                     # its own stack: Redis, API, 2 workers, fs store
    .venv/bin/python bench/soak.py --n 2000 --store redis
    .venv/bin/python bench/soak.py --url http://127.0.0.1:8080 --redis-url redis://127.0.0.1:6379/0 \\
        --api-pid 1234 --pool-pid 1230                # a running service (e.g. `make run`)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _stack import Stack, http  # noqa: E402
from redis import Redis  # noqa: E402

from core.keys import Keys  # noqa: E402
from core.result_stores import build_result_store  # noqa: E402
from core.settings import Settings  # noqa: E402
from worker.memory import memory_samples  # noqa: E402

MIX = [("invoice", ["docx"], 4), ("invoice", ["pdf"], 4), ("gov-info-annual-report-2021", ["pdf", "docx"], 1)]
"""(template, formats, weight) of the renders sent."""
COLUMNS = ("api_rss", "worker_rss", "lo_rss", "fds", "redis_used", "store_bytes")


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Probe:
    """Reads the figures of one checkpoint."""

    def __init__(self, settings: Settings, api_pid: int | None, pool_pid: int | None) -> None:
        self.redis = Redis.from_url(settings.redis_url)
        self.store = build_result_store(settings, self.redis)
        self.api_pid, self.pool_pid = api_pid, pool_pid

    def read(self) -> dict[str, int]:
        # The pool's children are the worker processes; everything below one is its LibreOffice.
        workers = children(self.pool_pid) if self.pool_pid else []
        samples = memory_samples(workers)
        pool = rss_kb(self.pool_pid) * 1024 if self.pool_pid else 0
        return {"api_rss": rss_kb(self.api_pid) * 1024 if self.api_pid else 0,
                "worker_rss": pool + sum(s["worker"] for s in samples.values()),
                "lo_rss": sum(s["libreoffice"] for s in samples.values()),
                "fds": sum(fds(p) for p in (self.api_pid, self.pool_pid, *workers) if p),
                "redis_used": int(self.redis.info("memory")["used_memory"]), "store_bytes": self.store.size()}


def job_bytes(redis: Redis, keys: Keys, job_id: str) -> dict[str, int]:
    """MEMORY USAGE of each key one finished job keeps in Redis (RQ's own included)."""
    names = {"job document": keys.job(job_id), "tombstone": keys.gone(job_id), "ended signal": keys.job_ended(job_id),
             "RQ job hash": f"rq:job:{job_id}", "result files (Redis store)": keys.file(job_id, "*")}
    out = {}
    for label, key in names.items():
        matches = list(redis.scan_iter(match=key)) if "*" in key else [key]
        out[label] = sum(redis.memory_usage(k) or 0 for k in matches)
    return out


class Soak:
    """Sends the renders from ``clients`` threads; counts outcomes."""

    def __init__(self, url: str, samples: dict[str, dict], seed: int = 15) -> None:
        self.url, self.samples = url, samples
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.outcomes: dict[str, int] = {}
        self.last_finished: dict[str, str] = {}
        """Kind of render (template + formats) → the id of the last one that finished."""

    def pick(self) -> tuple[str, list[str]]:
        with self.lock:
            return self.random.choices([(t, f) for t, f, _ in MIX], weights=[w for *_, w in MIX])[0]

    def one(self, i: int) -> None:
        template, formats = self.pick()
        # cache: false — every render is rendered (the per-key render cache would answer repeats)
        body = {"template": template, "data": self.samples[template], "formats": formats, "cache": False}
        while True:
            status, raw = http("POST", self.url + ("/v1/renders?wait=60" if i % 2 else "/v1/renders"), body)
            if status != 429:
                break
            time.sleep(1)
        doc = json.loads(raw)
        while status in (200, 202) and doc.get("status") in ("queued", "started"):
            status, raw = http("GET", f"{self.url}/v1/renders/{doc['id']}?wait=60")
            doc = json.loads(raw)
        outcome = doc.get("status") if status == 200 else f"http {status}"
        if outcome == "finished" and i % 10 == 0:
            got, data = http("GET", self.url + doc["files"][0]["url"])
            outcome = "finished" if got == 200 and len(data) == doc["files"][0]["size"] else f"download {got}"
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if outcome == "finished":
                self.last_finished[f"{template} {'+'.join(formats)}"] = doc["id"]


def mib(n: float) -> str:
    return f"{n / 2**20:8.1f}"


HEADER = f"{'renders':>8} {'API MiB':>8} {'wrk MiB':>8} {'LO MiB':>8} {'fds':>5} {'Redis MiB':>9} {'store MiB':>9}"


def report(rows: list[tuple[int, dict[str, int]]]) -> None:
    for done, row in rows:
        print(f"{done:8d} {mib(row['api_rss'])} {mib(row['worker_rss'])} {mib(row['lo_rss'])} {row['fds']:5d} "
              f"{mib(row['redis_used']):>9} {mib(row['store_bytes']):>9}", flush=True)


def growth(rows: list[tuple[int, dict[str, int]]]) -> None:
    """Growth per 1 000 renders over the whole run and over its second half (caches warm by then)."""
    half = rows[len(rows) // 2 - 1] if len(rows) > 2 else rows[0]
    spans = [("whole run", rows[0], rows[-1]), ("second half", half, rows[-1])]
    print(f"growth per 1 000 renders: {'':12s} " + "  ".join(f"{label} ({a[0]} → {b[0]})" for label, a, b in spans))
    for col in COLUMNS:
        deltas = [(b[1][col] - a[1][col]) * 1000 / max(1, b[0] - a[0]) for _, a, b in spans]
        unit = (lambda d: f"{d:+10.0f}") if col == "fds" else (lambda d: f"{d / 2**20:+9.2f} MiB")
        print(f"  {col:12s} " + "   ".join(unit(d) for d in deltas))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="renders in all")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the stack started here")
    ap.add_argument("--store", choices=("fs", "redis"), default="fs", help="result store of the stack started here")
    ap.add_argument("--ttl", type=int, default=86400, help="WENSHU_RESULT_TTL of the stack started here")
    ap.add_argument("--url", help="a running service instead of a stack of our own")
    ap.add_argument("--redis-url", help="its Redis (with --url)")
    ap.add_argument("--api-pid", type=int, help="pid of its `wenshu serve` (with --url)")
    ap.add_argument("--pool-pid", type=int, help="pid of its `wenshu worker` (with --url)")
    args = ap.parse_args()
    stack = None
    if args.url:
        url = args.url.rstrip("/")
        settings = Settings.from_env().with_(redis_url=args.redis_url or Settings.from_env().redis_url)
        api_pid, pool_pid = args.api_pid, args.pool_pid
    else:
        results = tempfile.mkdtemp(prefix="wenshu-soak-results-")
        env = {"WENSHU_RESULT_STORE": args.store, "WENSHU_RESULT_DIR": results, "WENSHU_RESULT_TTL": str(args.ttl)}
        stack = Stack(workers=args.workers, extra_env=env).start()
        url = stack.url
        settings = Settings.from_env(stack.env)
        api_pid, pool_pid = stack.procs[-1].pid, stack.worker_proc.pid
    try:
        samples = {t: json.loads(http("GET", f"{url}/v1/templates/{t}/sample")[1]) for t, *_ in MIX}
        probe, soak = Probe(settings, api_pid, pool_pid), Soak(url, samples)
        every = max(1, min(1000, args.n // 10))
        rows: list[tuple[int, dict[str, int]]] = []
        started = time.monotonic()
        print(HEADER, flush=True)
        with ThreadPoolExecutor(args.clients) as pool:
            for start in range(0, args.n, every):
                list(pool.map(soak.one, range(start, min(args.n, start + every))))
                rows.append((min(args.n, start + every), probe.read()))
                report(rows[-1:])
        print(f"{args.n} renders in {time.monotonic() - started:.0f} s; outcomes: {soak.outcomes}")
        growth(rows)
        print(f"bytes one finished job keeps in Redis ({settings.result_store} store), by MEMORY USAGE:")
        for kind, job_id in sorted(soak.last_finished.items()):
            per_job = job_bytes(probe.redis, Keys(settings.key_prefix), job_id)
            print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in per_job.items())
                  + f"; total {sum(per_job.values())}")
    finally:
        if stack:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
