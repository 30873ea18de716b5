"""Where the API's share of a render goes: ``POST /v1/renders`` up to the job being queued, by step.

Runs the Flask app in this process (its test client: no HTTP server, no worker) against a private
Redis, posts the 8-page annual report N times as a stored template (JSON) and as an ad-hoc upload
(multipart, the same .docx every time), and prints the median wall and CPU time of each step the
request takes, timed by wrapping the functions ``service/renders.py`` calls. Without a worker no job
ends, so the held wait and the download are not in it (bench/e2e_vs_raw.py measures the whole).
Usage: ``.venv/bin/python bench/api_profile.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT  # noqa: E402
from _steps import StepTimes, private_redis  # noqa: E402

TEMPLATE = "gov-info-annual-report-2019"
TIMES = StepTimes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with private_redis() as port:
        os.environ.update(REDIS_URL=f"redis://127.0.0.1:{port}/0", WENSHU_MAX_QUEUE="1000000",
                          WENSHU_MAX_JOBS_PER_KEY="1000000", WENSHU_RENDER_CACHE="0", WENSHU_LOG_LEVEL="WARNING")
        run(args.runs)


def run(runs: int) -> None:
    from rq import Queue

    import service.renders as renders
    from core.stores import JobStore
    from service.app import create_app
    from service.quota import JobQuota
    from service.registry import Registry

    app = create_app()
    client = app.test_client()
    folder = ROOT / "templates" / TEMPLATE
    sample = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
    docx = (folder / "template.docx").read_bytes()
    for owner, name, label in (
        (renders, "_read_request", "read + check request (JSON, shape)"),
        (renders, "validate_data", "validate data (schema + rules)"),
        (renders, "check_template_once", "ad-hoc template check (cache)"),
        (renders, "version_of", "ad-hoc version digest"),
        (Registry, "resolve", "resolve template version"),
        (renders.idempotency, "claim", "idempotency claim"),
        (renders.render_cache, "reuse", "render cache lookup"),
        (JobQuota, "admit", "per-key quota admit"),
        (JobStore, "create", "job document create"),
        (renders, "index_render", "listing index"),
        (Queue, "enqueue", "RQ enqueue"),
        (renders, "_respond", "answer (no wait)"),
    ):
        TIMES.wrap(owner, name, label)
    requests = {
        "stored": lambda: client.post("/v1/renders", json={"template": TEMPLATE, "data": sample}),
        "ad-hoc": lambda: client.post("/v1/renders", content_type="multipart/form-data", data={
            "template": (io.BytesIO(docx), "template.docx"), "data": json.dumps(sample, ensure_ascii=False)}),
    }
    for kind, post in requests.items():
        for _ in range(3):
            assert post().status_code == 202
        TIMES.clear()
        walls, cpus = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            response = post()
            walls.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            assert response.status_code == 202, response.get_data(as_text=True)[:300]
        print(f"{kind}: POST /v1/renders → 202, medians of {runs} (ms): wall {statistics.median(walls):.1f}, "
              f"CPU {statistics.median(cpus):.1f}")
        for label, walls_of_step in TIMES.wall.items():
            print(f"  {label:40s} wall {statistics.median(walls_of_step):6.2f}  "
                  f"CPU {statistics.median(TIMES.cpu[label]):6.2f}")


if __name__ == "__main__":
    main()
