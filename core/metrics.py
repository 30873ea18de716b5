"""Job metrics kept in Redis, exposed by the API's ``/metrics``.

Workers run on other hosts than the API, so their counters cannot live in process memory the API
can scrape. Each worker adds to Redis hashes (one HINCRBY per sample); the API's collector reads
them at scrape time and presents proper Prometheus counters and histograms.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from redis import Redis

from .keys import Keys

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Histogram bucket bounds in seconds for render and convert latency."""
HISTOGRAMS = {"render": "docxtpl fill time per job", "convert": "LibreOffice conversion time per job",
              "total": "time from enqueue to finish per job",
              "queue_wait": "time a job waited in the queue before a worker took it"}
SEP = "\x1f"
"""Joins label values in one Redis hash field (no label value contains it: names are checked)."""
RSS_TTL_SECONDS = 15
"""A worker's memory sample expires with its liveness mark: dead workers drop out of the gauge."""


class MetricsRecorder:
    """Worker-side: add samples to the Redis hashes."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    def job_finished(self, outcome: str, seconds: dict[str, float], template: str = "", problem: str = "") -> None:
        """Count one ended job by outcome, template name and problem type; add its timings."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(self.keys.metric("jobs"), SEP.join((outcome, template, problem)), 1)
        if "queued" in seconds:
            seconds = {**seconds, "queue_wait": seconds["queued"]}
        for name, value in seconds.items():
            if name not in HISTOGRAMS:
                continue
            key = self.keys.metric(f"hist:{name}")
            for bound in BUCKETS:
                if value <= bound:
                    pipe.hincrby(key, str(bound), 1)
            pipe.hincrby(key, "+Inf", 1)
            pipe.hincrbyfloat(key, "sum", value)
        pipe.execute()

    def libreoffice_restarted(self, reason: str) -> None:
        kind = reason.split(" ")[0] if reason else "unknown"
        self.redis.hincrby(self.keys.metric("lo_restarts"), kind, 1)

    def memory(self, worker: str, rss: dict[str, int]) -> None:
        """This worker's resident memory now, by process ("worker", "libreoffice"), in bytes."""
        key = self.keys.metric(f"rss:{worker}")
        self.redis.pipeline(transaction=False).hset(key, mapping=rss).expire(key, RSS_TTL_SECONDS).execute()


class RedisMetricsCollector:
    """API-side: a prometheus_client collector reading the hashes at scrape time."""

    def __init__(self, redis: Redis, keys: Keys, queue_depth, worker_count) -> None:
        self.redis, self.keys = redis, keys
        self.queue_depth, self.worker_count = queue_depth, worker_count

    def collect(self) -> Iterator:
        try:
            yield from self._collect()
        except Exception:  # noqa: BLE001 - a scrape must not fail because Redis is down
            up = GaugeMetricFamily("wenshu_redis_up", "1 when the API can reach Redis")
            up.add_metric([], 0)
            yield up

    def _collect(self) -> Iterator:
        jobs = CounterMetricFamily("wenshu_jobs", "Jobs that ended, by outcome, template and problem type",
                                   labels=["outcome", "template", "problem"])
        for field, count in self._hash("jobs").items():
            labels = (field.split(SEP) + ["", ""])[:3]
            jobs.add_metric(labels, float(count))
        yield jobs
        yield self._memory()
        restarts = CounterMetricFamily("wenshu_libreoffice_restarts", "LibreOffice restarts, by reason",
                                       labels=["reason"])
        for reason, count in self._hash("lo_restarts").items():
            restarts.add_metric([reason], float(count))
        yield restarts
        cache = CounterMetricFamily("wenshu_render_cache_lookups", "Render cache lookups, by result (hit, miss)",
                                    labels=["result"])
        for result, count in self._hash("render_cache").items():
            cache.add_metric([result], float(count))
        yield cache
        for name, doc in HISTOGRAMS.items():
            raw = self._hash(f"hist:{name}")
            buckets = [(str(b), float(raw.get(str(b), 0))) for b in BUCKETS]
            buckets.append(("+Inf", float(raw.get("+Inf", 0))))
            hist = HistogramMetricFamily(f"wenshu_{name}_seconds", doc)
            hist.add_metric([], buckets, sum_value=float(raw.get("sum", 0)))
            yield hist
        depth = GaugeMetricFamily("wenshu_queue_depth", "Jobs waiting in the queue")
        depth.add_metric([], self.queue_depth())
        yield depth
        workers = GaugeMetricFamily("wenshu_workers", "Worker processes registered in Redis")
        workers.add_metric([], self.worker_count())
        yield workers
        up = GaugeMetricFamily("wenshu_redis_up", "1 when the API can reach Redis")
        up.add_metric([], 1)
        yield up

    def _memory(self) -> GaugeMetricFamily:
        rss = GaugeMetricFamily("wenshu_worker_rss_bytes", "Resident memory of each live worker process and its "
                                "LibreOffice", labels=["worker", "process"])
        prefix = self.keys.metric("rss:")
        for key in self.redis.scan_iter(match=prefix + "*", count=100):
            worker = key.decode()[len(prefix):]
            for process, value in self.redis.hgetall(key).items():
                rss.add_metric([worker, process.decode()], float(value))
        return rss

    def _hash(self, name: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.keys.metric(name)).items()}
