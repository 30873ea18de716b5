"""Where one job's time goes, worker side: the real ``Engine`` (Redis, LibreOffice) run in this process.

Starts a private Redis, seeds the bundled templates, and runs ``Engine.run`` on the 8-page
annual report N times (after warm-up), timing each step the job takes by wrapping the functions
it calls, then prints the median per step. ``--profile`` adds a cProfile of the same runs (top
entries by cumulative time, LibreOffice's conversion included as one call). ``--adhoc`` renders
the template as an ad-hoc upload instead (no registered meta); ``--warn`` drops the data's ``agency``, so
every job warns of a missing variable (with paragraph and tag); ``--finish`` asks for a watermark and
PDF metadata (the .docx finishing steps).
Usage: ``.venv/bin/python bench/job_profile.py [--runs N] [--profile] [--adhoc] [--warn] [--finish]``.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT  # noqa: E402
from _steps import StepTimes, private_redis  # noqa: E402

import worker.jobs as jobs  # noqa: E402
import worker.pipeline as pipeline  # noqa: E402
from core.keys import Keys  # noqa: E402
from core.payload import JobDocument, RenderPayload, TemplateRef  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.stores import JobStore, TemplateStore, now_iso  # noqa: E402
from service.registry import Registry  # noqa: E402

TEMPLATE = "gov-info-annual-report-2019"
TIMES = StepTimes()


def instrument(engine: jobs.Engine) -> None:
    for owner, name, label in (
        (pipeline, "render_docx", "render_docx (docxtpl fill)"),
        (pipeline, "finish_docx", "finish_docx (watermark, properties)"),
        (pipeline, "check_rendered_docx", "check_rendered_docx"),
        (pipeline, "chunk_long_tables", "chunk_long_tables"),
        (pipeline, "finish_exported_pdf", "finish_exported_pdf"),
        (jobs, "with_document_metadata", "with_document_metadata"),
        (engine.pipeline.supervisor, "convert", "LibreOffice convert"),
        (engine.templates, "get_docx", "template fetch (Redis)"),
        (engine.templates, "json_field", "template meta (Redis)"),
        (engine, "_store_files", "result store write"),
        (engine.jobs, "update", "job document updates"),
        (engine.metrics, "job_finished", "metrics"),
    ):
        TIMES.wrap(owner, name, label)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--adhoc", action="store_true")
    parser.add_argument("--warn", action="store_true")
    parser.add_argument("--finish", action="store_true")
    args = parser.parse_args()
    with private_redis() as port:
        run(args, port)


def run(args: argparse.Namespace, port: int) -> None:
    settings = Settings.from_env({**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    redis = Redis.from_url(settings.redis_url)
    for _ in range(100):
        try:
            redis.ping()
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    keys = Keys(settings.key_prefix)
    store = TemplateStore(redis, keys)
    Registry(store, ROOT / "templates").seed_bundled()
    folder = ROOT / "templates" / TEMPLATE
    data = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
    if args.warn:
        data.pop("agency")
    options = {"watermark": {"text": "样稿"}, "pdf": {"metadata": {"title": "年度报告", "author": "办公室"}}} \
        if args.finish else {}
    if args.adhoc:
        docx = (folder / "template.docx").read_bytes()
        version = hashlib.sha256(docx).hexdigest()[:12]
        store.put_adhoc(version, docx, 3600)
        ref = TemplateRef("ad-hoc", version, adhoc=True)
    else:
        ref = TemplateRef(TEMPLATE, store.latest(TEMPLATE)["version"])
    engine = jobs.Engine(settings, redis)
    job_store = JobStore(redis, keys, settings.result_ttl)

    def one() -> tuple[float, dict]:
        job_id = uuid.uuid4().hex
        job_store.create(JobDocument(id=job_id, template={"name": ref.name, "version": ref.version},
                                     formats=["pdf"], created_at=now_iso()))
        t0 = time.perf_counter()
        engine.run(RenderPayload(id=job_id, template=ref, data=data, options=options))
        wall = (time.perf_counter() - t0) * 1000
        doc = job_store.get(job_id)
        assert doc is not None and doc.status == "finished", doc
        return wall, doc.timings_ms

    try:
        for _ in range(3):
            one()
        instrument(engine)
        TIMES.clear()
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        results = [one() for _ in range(args.runs)]
        if profiler:
            profiler.disable()
    finally:
        engine.pipeline.stop()
    walls = [w for w, _ in results]
    kind = ("ad-hoc" if args.adhoc else "stored") + (", warned" if args.warn else "") + \
        (", watermark + metadata" if args.finish else "")
    print(f"{TEMPLATE}, {kind} template, medians of {args.runs} Engine.run calls (ms):")
    print(f"  Engine.run wall {statistics.median(walls):.1f}")
    for stage in ("render", "convert"):
        print(f"  timings_ms.{stage} {statistics.median(t[stage] for _, t in results):.0f}")
    print(f"  {'step':40s} {'wall':>7s} {'CPU':>7s}")
    for label, values in TIMES.wall.items():
        print(f"  {label:40s} {per_job(values, args.runs):7.1f} {per_job(TIMES.cpu[label], args.runs):7.1f}"
              f"   ({len(values) // args.runs}× a job)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def per_job(values: list[float], runs: int) -> float:
    """Median over jobs of a step's total time in the job (a step may run more than once a job)."""
    return statistics.median(sum(values[i::runs]) for i in range(runs)) if len(values) > runs \
        else statistics.median(values)


if __name__ == "__main__":
    main()
