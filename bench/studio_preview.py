"""The studio's Preview and Compare, measured over HTTP against a real stack (one worker).

Preview = what the page does on a click: ``POST /v1/renders?wait=60`` (render + convert on a warm
LibreOffice), ``GET …/pages``, then every page PNG. Compare = the same twice (two renders of one
template, same data) plus ``GET …/compare/{b}`` and every boxed page PNG. The template is the
bundled 2021 government annual report with its sample (a multi-page document). Medians and the
share of the time spent drawing pages come from this one run; page images are cached for 10 min,
so every run renders anew (``cache: false``) and asks for fresh jobs' pages.

Usage: ``.venv/bin/python bench/studio_preview.py [--runs 7]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _stack import ROOT, Stack, http  # noqa: E402

TEMPLATE = "gov-info-annual-report-2021"


def render(url: str, data: dict) -> tuple[str, float]:
    t0 = time.perf_counter()
    status, body = http("POST", url + "/v1/renders?wait=60", {"template": TEMPLATE, "data": data,
                                                              "formats": ["pdf"], "cache": False})
    doc = json.loads(body)
    if status != 200 or doc.get("status") != "finished":
        raise SystemExit(f"render answered {status}: {body[:300]!r}")
    return doc["id"], time.perf_counter() - t0


def get(url: str) -> bytes:
    status, body = http("GET", url)
    if status != 200:
        raise SystemExit(f"GET {url} answered {status}: {body[:300]!r}")
    return body


def preview(url: str, data: dict) -> tuple[float, float, int]:
    """(render seconds, page-drawing seconds, pages)."""
    job, rendered = render(url, data)
    t0 = time.perf_counter()
    pages = json.loads(get(f"{url}/v1/renders/{job}/pages"))["pages"]
    for page in pages:
        get(url + page)
    return rendered, time.perf_counter() - t0, len(pages)


def compare(url: str, data: dict) -> tuple[float, float]:
    """(seconds for the two renders, seconds for the comparison and its boxed pages)."""
    (a, ta), (b, tb) = render(url, data), render(url, data)
    t0 = time.perf_counter()
    result = json.loads(get(f"{url}/v1/renders/{a}/compare/{b}"))
    for page in result["pages"]:
        get(url + page["image"])
    return ta + tb, time.perf_counter() - t0


def drawing(pdf: bytes, runs: int) -> tuple[float, float]:
    """Median ms for page 1 as poppler's own PNG vs poppler's PPM encoded by Pillow (what the API does)."""
    from service.page_images import MAX_SIDE_PX, page_image, png_bytes

    poppler, ours = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(["pdftoppm", "-png", "-f", "1", "-l", "1", "-scale-to", str(MAX_SIDE_PX), "-singlefile", "-"],
                       input=pdf, capture_output=True, check=True)
        t1 = time.perf_counter()
        png_bytes(page_image(pdf, 1, 1))
        t2 = time.perf_counter()
        poppler.append(t1 - t0)
        ours.append(t2 - t1)
    return statistics.median(poppler) * 1000, statistics.median(ours) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data = json.loads((ROOT / "templates" / TEMPLATE / "sample.json").read_text(encoding="utf-8"))
    with Stack(workers=1) as stack:
        preview(stack.url, data)  # warm the worker's template cache and LibreOffice
        previews = [preview(stack.url, data) for _ in range(args.runs)]
        compares = [compare(stack.url, data) for _ in range(args.runs)]
        job, _ = render(stack.url, data)
        pdf = get(f"{stack.url}/v1/renders/{job}?download=pdf")
    png_ms, ppm_ms = drawing(pdf, args.runs)
    render_ms = statistics.median(p[0] for p in previews) * 1000
    draw_ms = statistics.median(p[1] for p in previews) * 1000
    pages = previews[0][2]
    two_ms = statistics.median(c[0] for c in compares) * 1000
    diff_ms = statistics.median(c[1] for c in compares) * 1000
    print(f"{args.runs} runs, {TEMPLATE} ({pages} pages):")
    print(f"  preview: render {render_ms:.0f} ms + all page PNGs {draw_ms:.0f} ms "
          f"({draw_ms / pages:.0f} ms/page); drawing is {draw_ms / (render_ms + draw_ms):.0%} of the preview")
    print(f"  compare: two renders {two_ms:.0f} ms + comparison and boxed PNGs {diff_ms:.0f} ms "
          f"({diff_ms / (two_ms + diff_ms):.0%} of the compare)")
    print(f"  page 1: pdftoppm -png {png_ms:.0f} ms, pdftoppm PPM + Pillow PNG {ppm_ms:.0f} ms "
          f"({png_ms / ppm_ms:.1f}x faster)")


if __name__ == "__main__":
    main()
