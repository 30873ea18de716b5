"""Batches, measured: 200 invoices as one ``POST /v1/batches`` on 1 and then 2 worker processes.

Each record is the bundled invoice sample varied (its own number, buyer and a different subset of
line items with the totals recomputed). Records/s is measured server-side, from the batch's
``created_at`` to its ``finished_at`` (so it includes the assembly of the ZIP-less merged PDF);
the speed-up is the ratio of the two runs made here, in one process. The merged PDF is then
downloaded and its pages and outline entries counted with pypdf.

Usage: ``.venv/bin/python bench/batch.py [--records 200]``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from pypdf import PdfReader
from redis import Redis
from rq import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack, http  # noqa: E402

BATCH_SECONDS = 900
"""Seconds one batch may take before the bench gives up."""


def records(n: int) -> list[dict]:
    sample = json.loads((ROOT / "templates" / "invoice" / "sample.json").read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        items = sample["items"][: 1 + i % len(sample["items"])]
        subtotal = round(sum(item["amount"] for item in items), 2)
        tax = round(subtotal * sample["tax_rate"], 2)
        data = dict(sample, invoice_no=f"WS-2025-{i + 1:05d}", items=items, subtotal=subtotal, tax=tax,
                    total=round(subtotal + tax, 2),
                    buyer=dict(sample["buyer"], name=f"客户 {i + 1:03d} Customer {i + 1} Ltd."))
        out.append({"data": data})
    return out


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def run_batch(url: str, body: dict) -> dict:
    status, raw = http("POST", url + "/v1/batches", body)
    if status != 202:
        raise SystemExit(f"POST /v1/batches answered {status}: {raw[:500]!r}")
    batch_id = json.loads(raw)["id"]
    deadline = time.monotonic() + BATCH_SECONDS
    while time.monotonic() < deadline:
        doc = json.loads(http("GET", f"{url}/v1/batches/{batch_id}")[1])
        if doc["status"] in ("finished", "failed"):
            return doc
        time.sleep(0.5)
    raise SystemExit(f"batch {batch_id} did not end within {BATCH_SECONDS} s")


def measure(stack: Stack, n: int) -> tuple[float, dict]:
    run_batch(stack.url, {"template": "invoice", "records": records(2 * stack.workers)})  # warm every worker
    body = {"template": "invoice", "records": records(n), "outputs": ["merged_pdf"], "outline_title": "/invoice_no",
            "filename": "invoices"}
    doc = run_batch(stack.url, body)
    seconds = (parse(doc["finished_at"]) - parse(doc["created_at"])).total_seconds()
    jobs = sorted(w.successful_job_count for w in Worker.all(connection=Redis.from_url(stack.env["REDIS_URL"])))
    print(f"{stack.workers} worker(s): {doc['done']} done, {doc['failed']} failed of {doc['total']} in "
          f"{seconds:.1f} s = {doc['done'] / seconds:.2f} records/s; jobs per worker (with warm-up and assembly): "
          f"{jobs}", flush=True)
    return doc["done"] / seconds, doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200)
    args = parser.parse_args()
    extra = {"WENSHU_MAX_BATCH_RECORDS": str(max(1000, args.records))}
    with Stack(workers=1, extra_env=extra) as stack:
        one, _ = measure(stack, args.records)
        stack.start_workers(2)
        stack.wait_ready()
        two, doc = measure(stack, args.records)
        [merged] = [f for f in doc["files"] if f["name"] == "invoices.pdf"]
        status, pdf = http("GET", stack.url + merged["url"])
        reader = PdfReader(io.BytesIO(pdf))
        print(f"speed-up 2 vs 1 workers: {two / one:.2f}x (goal >= 1.8x)")
        print(f"merged PDF: {len(reader.pages)} pages, {len(reader.outline)} outline entries, "
              f"{len(pdf) / 1e6:.1f} MB (HTTP {status})")


if __name__ == "__main__":
    main()
