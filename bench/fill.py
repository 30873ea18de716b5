"""The fill alone (issue #12): wenshu's ``render_docx`` vs docxtpl's own ``DocxTemplate``, by row count.

The long-table report of tests/long_table_report.py is filled with N rows, .docx bytes out, no
LibreOffice. Ours is ``render_docx`` as the worker calls it (sandbox, undefined-variable recording,
typed values, CPU limit) with a fresh environment, so the compile of the template's parts counts as
it does on a worker's first job; docxtpl's is its own class in the same sandboxed environment, with
the same context (what tests/test_fast_fill.py compares byte for byte). Each figure is the best of
``--repeat`` runs in this one process, all sizes in one run, so the ratios compare like with like on a
shared machine.

Prints per size: ours, docxtpl's, docxtpl ÷ ours; then largest ÷ smallest for both (linear: the
ratio of the row counts, 10 for 20 000 ÷ 2 000).

Usage: ``.venv/bin/python bench/fill.py [--sizes 2000,10000,20000] [--repeat 3] [--docxtpl-repeat 1]``
(``--docxtpl-repeat 0`` leaves docxtpl's class out).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from docxtpl import DocxTemplate  # noqa: E402
from long_table_report import build_template, report_data  # noqa: E402

from core.sandbox import make_environment  # noqa: E402
from worker.render import render_docx  # noqa: E402
from worker.typed import to_context  # noqa: E402


def ours(template: bytes, data: dict) -> bytes:
    return render_docx(template, data, env=make_environment())


def docxtpls(template: bytes, data: dict) -> bytes:
    tpl = DocxTemplate(io.BytesIO(template))
    tpl.render(to_context(data, tpl), jinja_env=make_environment(), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def best(fill: Callable[[bytes, dict], bytes], template: bytes, data: dict, repeat: int) -> float | None:
    """The shortest of ``repeat`` fills, seconds (None when ``repeat`` is 0)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fill(template, data)
        times.append(time.perf_counter() - t0)
    return min(times) if times else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,10000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--docxtpl-repeat", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    template = build_template()
    print(f"load average {os.getloadavg()[0]:.2f} (2-core machine shared with others)")
    print(f"{'rows':>6} {'ours s':>7} {'docxtpl s':>9} {'docxtpl÷ours':>12}")
    rows = {}
    for size in sizes:
        data = report_data(size)
        a = best(ours, template, data, args.repeat)
        b = best(docxtpls, template, data, args.docxtpl_repeat)
        rows[size] = (a, b)
        print(f"{size:>6} {a:>7.3f} " + (f"{b:>9.3f} {b / a:>12.1f}" if b else f"{'-':>9} {'-':>12}"), flush=True)
    low, high = min(sizes), max(sizes)
    if low != high:
        line = f"{high} ÷ {low} rows ({high / low:g}×): ours {rows[high][0] / rows[low][0]:.2f}"
        if rows[low][1] and rows[high][1]:
            line += f", docxtpl {rows[high][1] / rows[low][1]:.2f}"
        print(line)


if __name__ == "__main__":
    main()
