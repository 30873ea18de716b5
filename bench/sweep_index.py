"""The result sweep with the expiry index vs the full scan, on the S3 store (moto_server) and a directory.

A store holds ``--jobs`` jobs of two files each; ``--expired`` of them have lost their document (the
rest are alive, as in a steady state where a sweep every TTL/4 finds a few percent expired). Each
sweep mode starts from the same store: the indexed sweep (what the pool runs every interval) reads
the due ids from Redis and lists each expired job's own folder; the full scan (the daily fallback,
and what every sweep did before the index) lists the whole prefix / directory and asks Redis about
every job. Printed: S3 requests made, Redis round trips and wall time of each, and the ratios —
measured in one run, so the machine's load affects both alike.

Usage::

    .venv/bin/python bench/sweep_index.py                   # 5 000 jobs, 100 expired
    .venv/bin/python bench/sweep_index.py --jobs 20000 --expired 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import boto3  # noqa: E402
from redis import Redis  # noqa: E402

from core.result_index import ExpiryIndex  # noqa: E402
from core.result_stores import FsResultStore, stored_name  # noqa: E402
from core.s3_store import S3ResultStore  # noqa: E402

BUCKET = "bench-results"
NAMES = ("发票.pdf", "发票.docx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except Exception:  # noqa: BLE001 - not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.2)


class Servers:
    """A throwaway redis-server and moto_server on free loopback ports."""

    def __init__(self, tmp: Path) -> None:
        rport, sport = free_port(), free_port()
        self.procs = [
            subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL),
            subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(sport)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        self.redis = Redis(port=rport)
        self.endpoint = f"http://127.0.0.1:{sport}"
        wait_for(self.redis.ping, "redis-server")
        wait_for(lambda: self.client().create_bucket(Bucket=BUCKET), "moto_server")

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # moto_server under load can take longer to stop
                proc.kill()
                proc.wait(10)


class Counted:
    """Redis round trips made through ``has_document`` (one pipeline per batch of ids)."""

    def __init__(self, alive: set[str]) -> None:
        self.alive, self.calls = alive, 0

    def __call__(self, ids: list[str]) -> list[bool]:
        self.calls += 1
        return [i in self.alive for i in ids]


def fill(store, index: ExpiryIndex, jobs: list[str], expired: set[str]) -> None:
    """Two files per job; the expired jobs' index entries made due now (the others due in a day)."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda j: [store.put(j, name, name.encode()) for name in NAMES], jobs))
    index.redis.zadd(index.key, {f"{j}/{stored_name(name)}": time.time() - 1 for j in expired for name in NAMES})


def run(store, index: ExpiryIndex, jobs: list[str], expired: set[str], full: bool, s3_calls: Counter) -> dict:
    fill(store, index, jobs, expired)
    asked = Counted(set(jobs) - expired)
    s3_calls.clear()
    started = time.perf_counter()
    removed = store.sweep(asked, full=full)
    seconds = time.perf_counter() - started
    assert removed == len(expired), (removed, len(expired))
    return {"seconds": seconds, "s3_requests": sum(s3_calls.values()), "redis_batches": asked.calls}


def compare(label: str, make_store, jobs: list[str], expired: set[str], s3_calls: Counter) -> None:
    results = {}
    for mode, full in (("indexed", False), ("full scan", True)):
        store, index = make_store(mode)
        if full:
            store.index = None  # the sweep as it was: nothing but the scan
        else:
            index.redis.delete(index.key)
        results[mode] = run(store, index, jobs, expired, full, s3_calls)
    a, b = results["indexed"], results["full scan"]
    print(f"{label}: {len(jobs)} jobs × 2 files, {len(expired)} expired")
    for mode, r in results.items():
        print(f"  {mode:9}  {r['seconds'] * 1000:9.1f} ms  S3 requests {r['s3_requests']:6}  "
              f"Redis batches {r['redis_batches']:4}")
    ratio = b["seconds"] / a["seconds"] if a["seconds"] else float("inf")
    print(f"  full scan ÷ indexed: time {ratio:.1f}×" +
          (f", S3 requests {b['s3_requests']} vs {a['s3_requests']}" if b["s3_requests"] else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--expired", type=int, default=100)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    servers = Servers(tmp)
    try:
        jobs = [f"{i:032x}" for i in range(args.jobs)]
        expired = set(jobs[:: max(1, args.jobs // args.expired)][: args.expired])
        s3_calls: Counter = Counter()
        client = servers.client()
        client.meta.events.register("before-call.s3", lambda model, **_: s3_calls.update([model.name]))

        def s3_store(mode: str):
            prefix = f"bench-{mode.replace(' ', '-')}-{os.getpid()}"
            index = ExpiryIndex(servers.redis, f"{prefix}:result-expiry", 86400, 3600)
            return S3ResultStore(client, BUCKET, prefix, grace=0, index=index), index

        def fs_store(mode: str):
            root = tmp / mode.replace(" ", "-")
            shutil.rmtree(root, ignore_errors=True)
            index = ExpiryIndex(servers.redis, f"fs-{mode.replace(' ', '-')}:result-expiry", 86400, 3600)
            return FsResultStore(root, grace=0, index=index), index

        compare("s3 (moto_server)", s3_store, jobs, expired, s3_calls)
        compare("fs (local directory)", fs_store, jobs, expired, s3_calls)
        probe = ExpiryIndex(servers.redis, "probe:result-expiry", 86400, 3600)
        for job in jobs:
            for name in NAMES:
                probe.note(job, stored_name(name))
        per_file = servers.redis.memory_usage(probe.key, samples=0) / len(probe)
        print(f"expiry index in Redis: {per_file:.0f} bytes per file ({len(probe)} files, MEMORY USAGE)")
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
