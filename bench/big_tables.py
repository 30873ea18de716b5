"""Big documents (issue #12): fill, conversion and end-to-end time of one long table, by row count.

The report of tests/long_table_report.py (intro, one 8-column table with a repeated header row and a
``{%tr for r in rows %}`` loop, "— N —" footers) is filled with N rows and converted to PDF by the
worker's own pipeline (render_docx → output check → long-table chunking → LibreOffice). Each size
runs in a fresh process with a fresh LibreOffice, so peak RSS figures belong to that size alone.

Prints, per size: fill (render_docx), conversion, end to end (fill + check + convert), pages, peak
RSS of the worker process and of soffice.bin, the seams of the chunked table, the conversion's time
limit and the job's (what must hold for the report to finish under the settings); then the
4 000 ÷ 2 000 and 10 000 ÷ 2 000 ratios. Defaults, load ~2: 2 000 / 4 000 / 10 000 rows end to end
5.2 / 11.6 / 43.1 s (4 000 ÷ 2 000 = 2.23, 10 000 ÷ 2 000 = 8.26); before the fenced seams 10 000 rows
took 429 s and failed under the default limit.

Usage: ``.venv/bin/python bench/big_tables.py [--sizes 2000,4000,10000,20000] [--chunk-rows N]``
(``--chunk-rows 0`` converts the table as one, as before issue #12; ``--chunk-rows 100`` chunks every
size, whatever ``WENSHU_LONG_TABLE_MIN_ROWS`` says; ``--timeout`` lifts the
conversion limit so unchunked sizes can be measured at all).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from long_table_report import build_template, report_data  # noqa: E402

from core.settings import Settings  # noqa: E402
from worker.memory import descendants  # noqa: E402


def _peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of ``pid``, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pages(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def measure_one(rows: int, chunk_rows: int | None, timeout: float | None) -> dict:
    """One size in this process: fill, convert, pages, peak RSS."""
    from core.docx_safety import check_rendered_docx
    from worker.long_tables import chunk_long_tables, conversion_timeout
    from worker.pipeline import Pipeline
    from worker.render import render_docx

    changes = {}
    if chunk_rows is not None:
        changes["long_table_chunk_rows"] = chunk_rows
        changes["long_table_min_rows"] = 0   # an explicit chunk size chunks every size measured
    if timeout is not None:
        changes["convert_timeout"] = timeout
    settings = Settings.from_env().with_(**changes)
    template, data = build_template(), report_data(rows)
    with Pipeline(settings) as pipeline:
        pipeline.supervisor.start()
        t0 = time.perf_counter()
        docx = render_docx(template, data, max_output=settings.max_output, env=pipeline.environment)
        fill = time.perf_counter() - t0
        check_rendered_docx(docx)
        convertible, seams = chunk_long_tables(docx, settings.long_table_chunk_rows, settings.long_table_min_rows)
        limit = conversion_timeout(settings, convertible)
        t1 = time.perf_counter()
        out = pipeline.produce(template, data, ("pdf",))
        end_to_end = time.perf_counter() - t1
        lo_pids = descendants(pipeline.supervisor.process.proc.pid)
        lo_peak = max((_peak_rss_mib(p) for p in lo_pids), default=0.0)
    return {"rows": rows, "fill": fill, "convert": out.timings_ms["convert"] / 1000, "end_to_end": end_to_end,
            "pages": _pages(out.files["pdf"]), "docx_mib": len(docx) / 2**20, "seams": seams, "limit": limit,
            "job_limit": settings.job_timeout,
            "worker_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "lo_rss_mib": lo_peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,4000,10000,20000")
    parser.add_argument("--chunk-rows", type=int, default=None,
                        help="rows per table chunk (0: no chunking); default: the setting")
    parser.add_argument("--timeout", type=float, default=None, help="conversion timeout, s; default: the setting")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.chunk_rows, args.timeout)))
        return
    results = {}
    print(f"{'rows':>6} {'pages':>5} {'fill s':>7} {'convert s':>9} {'e2e s':>7} {'docx MiB':>8} "
          f"{'worker MiB':>10} {'LO MiB':>7} {'seams':>5} {'limit s':>7} {'job s':>5}", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(size)]
        if args.chunk_rows is not None:
            cmd += ["--chunk-rows", str(args.chunk_rows)]
        if args.timeout is not None:
            cmd += ["--timeout", str(args.timeout)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, WENSHU_LOG_LEVEL="ERROR"))
        if proc.returncode:
            print(f"{size:>6} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'}")
            continue
        r = results[size] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{size:>6} {r['pages']:>5} {r['fill']:>7.2f} {r['convert']:>9.2f} {r['end_to_end']:>7.2f} "
              f"{r['docx_mib']:>8.1f} {r['worker_rss_mib']:>10.0f} {r['lo_rss_mib']:>7.0f} {r['seams']:>5} "
              f"{r['limit']:>7.0f} {r['job_limit']:>5}", flush=True)
    if 2000 in results and 4000 in results:
        a, b = results[2000], results[4000]
        print(f"4 000 ÷ 2 000: fill {b['fill'] / a['fill']:.2f}, convert {b['convert'] / a['convert']:.2f}, "
              f"end to end {b['end_to_end'] / a['end_to_end']:.2f}")
    if 2000 in results and 10000 in results:
        print(f"10 000 ÷ 2 000 end to end: {results[10000]['end_to_end'] / results[2000]['end_to_end']:.2f}")


if __name__ == "__main__":
    main()
