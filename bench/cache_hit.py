"""The render cache, measured: POST → PDF bytes in hand, a cache hit vs a render of the same request.

One worker. The request is the bundled invoice sample through ``POST /v1/renders/download``
(``?format=pdf&wait=60``: the answer is the PDF itself). "Cold" sends ``"cache": false`` (rendered
and converted anew every time, on a warm LibreOffice); "hit" sends the same request with the
cache on, primed once. Runs alternate, and the medians and their ratio come from this one run.

Usage: ``.venv/bin/python bench/cache_hit.py [--runs 15]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack, http  # noqa: E402


def fetch(url: str, body: dict) -> float:
    t0 = time.perf_counter()
    status, pdf = http("POST", url + "/v1/renders/download?format=pdf&wait=60", body)
    elapsed = time.perf_counter() - t0
    if status != 200 or not pdf.startswith(b"%PDF"):
        raise SystemExit(f"render answered {status}: {pdf[:300]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    sample = json.loads((ROOT / "templates" / "invoice" / "sample.json").read_text(encoding="utf-8"))
    body = {"template": "invoice", "data": sample, "formats": ["pdf"]}
    with Stack(workers=1, extra_env={"WENSHU_RENDER_CACHE": "1"}) as stack:
        fetch(stack.url, body | {"cache": False})  # warm the worker's template caches
        fetch(stack.url, body)  # prime the cache
        cold, hit = [], []
        for _ in range(args.runs):
            cold.append(fetch(stack.url, body | {"cache": False}))
            hit.append(fetch(stack.url, body))
        metrics = http("GET", stack.url + "/metrics")[1].decode()
    c, h = statistics.median(cold) * 1000, statistics.median(hit) * 1000
    print(f"{args.runs} runs each, POST -> PDF bytes: cold render median {c:.0f} ms, cache hit median {h:.0f} ms, "
          f"{c / h:.1f}x faster")
    hits = 'wenshu_render_cache_lookups_total{result="hit"}'
    print(next(line for line in metrics.splitlines() if line.startswith(hits)))


if __name__ == "__main__":
    main()
