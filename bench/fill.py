"""The fill alone (issue #12): wenshu's ``render_docx`` vs docxtpl's own ``DocxTemplate``, by row count.

The long-table report of tests/long_table_report.py is filled with N rows, .docx bytes out, no
LibreOffice. Ours is ``render_docx`` as the worker calls it (sandbox, undefined-variable recording,
typed values, CPU limit) with a fresh environment, so the compile of the template's parts counts as
it does on a worker's first job; docxtpl's is its own class in the same sandboxed environment, with
the same context (what tests/test_fast_fill.py compares byte for byte). The process is set up as a
worker is (worker/memory.py): start-up objects frozen out of the garbage collector's way, a
collection after each fill; in a bare process, full collections walking the whole heap add 40–70 %
to a 20 000-row fill. Each figure is the best of ``--repeat`` runs in this one process,
all sizes in one run, so the ratios compare like with like on a shared machine.

Prints per size: ours and docxtpl's, wall-clock and CPU seconds (CPU time is what the render limit
counts, and what others' load on a shared machine disturbs least), docxtpl ÷ ours; then largest ÷
smallest for both (linear: the ratio of the row counts, 10 for 20 000 ÷ 2 000).

Usage: ``.venv/bin/python bench/fill.py [--sizes 2000,10000,20000] [--repeat 3] [--docxtpl-repeat 1]
[--merged]`` (``--docxtpl-repeat 0`` leaves docxtpl's class out; ``--merged`` puts a title row merged
across the table on top, a ``gridSpan`` as official tables have, so docxtpl's grid reconciliation
has work to do).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from long_table_report import build_template, report_data  # noqa: E402
from merged_table_report import merged_template  # noqa: E402

from core.sandbox import make_environment  # noqa: E402
from helpers import docxtpl_fill  # noqa: E402
from worker.render import render_docx  # noqa: E402


def ours(template: bytes, data: dict) -> bytes:
    return render_docx(template, data, env=make_environment())


def best(fill: Callable[[bytes, dict], bytes], template: bytes, data: dict, repeat: int) -> tuple[float, float] | None:
    """The shortest wall-clock and CPU seconds of ``repeat`` fills (None when ``repeat`` is 0).

    Between fills, untimed, the collection a worker runs after each job (worker/memory.py).
    """
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fill(template, data)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        gc.collect()
    return (min(wall), min(cpu)) if wall else None


def _growth(low: tuple[float, float], high: tuple[float, float]) -> str:
    return f"{high[0] / low[0]:.2f} (cpu {high[1] / low[1]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,10000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--docxtpl-repeat", type=int, default=1)
    parser.add_argument("--merged", action="store_true", help="the table with a merged title row (gridSpan)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    template = merged_template() if args.merged else build_template()
    ours(template, report_data(10))  # imports and caches warm, then frozen as a worker's start-up is
    gc.collect()
    gc.freeze()
    print(f"{'merged-title' if args.merged else 'plain'} report; "
          f"load average {os.getloadavg()[0]:.2f} (2-core machine shared with others)")
    print(f"{'rows':>6} {'ours s':>7} {'ours cpu':>8} {'docxtpl s':>9} {'docxtpl cpu':>11} {'docxtpl÷ours':>12}")
    rows = {}
    for size in sizes:
        data = report_data(size)
        a = best(ours, template, data, args.repeat)
        b = best(docxtpl_fill, template, data, args.docxtpl_repeat)
        rows[size] = (a, b)
        theirs = f"{b[0]:>9.3f} {b[1]:>11.3f} {b[0] / a[0]:>12.1f}" if b else f"{'-':>9} {'-':>11} {'-':>12}"
        print(f"{size:>6} {a[0]:>7.3f} {a[1]:>8.3f} {theirs}", flush=True)
    low, high = min(sizes), max(sizes)
    if low != high:
        line = f"{high} ÷ {low} rows ({high / low:g}×): ours {_growth(rows[low][0], rows[high][0])}"
        if rows[low][1] and rows[high][1]:
            line += f", docxtpl {_growth(rows[low][1], rows[high][1])}"
        print(line)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
