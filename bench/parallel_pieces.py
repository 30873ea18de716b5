"""What two LibreOffice instances at once could give one huge document (issue #12's route left).

The long-table report (tests/long_table_report.py) at 10 000 rows, filled and chunked as the worker
does, is converted on one warm instance; then the same rows as two 5 000-row documents, each on its
own warm instance at the same time. The ratio is an upper bound for "convert bounded pieces on
several instances and join the PDFs": the join, and aligning pages where the pieces meet, are not
in it. Prints both times and their ratio, and the load average.

Usage: ``.venv/bin/python bench/parallel_pieces.py [--rows 10000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from long_table_report import build_template, report_data  # noqa: E402

from core.settings import Settings  # noqa: E402
from worker.libreoffice import LibreOfficeProcess  # noqa: E402
from worker.long_tables import chunk_long_tables  # noqa: E402
from worker.render import render_docx  # noqa: E402


def chunked(settings: Settings, template: bytes, rows: int) -> bytes:
    """The .docx LibreOffice gets for ``rows`` rows: filled, then chunked as the pipeline does."""
    filled = render_docx(template, report_data(rows), timeout=None)
    return chunk_long_tables(filled, settings.long_table_chunk_rows, settings.long_table_min_rows)[0]


def seconds_to_convert(process: LibreOfficeProcess, docx: bytes) -> float:
    t0 = time.perf_counter()
    process.convert(docx, "pdf", [], False, 900)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    rows = parser.parse_args().rows
    settings = Settings.from_env()
    template = build_template()
    whole, half = chunked(settings, template, rows), chunked(settings, template, rows // 2)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        instances = [LibreOfficeProcess(settings, Path(tmp) / f"lo{i}") for i in range(2)]
        try:
            for instance in instances:
                instance.start()
                seconds_to_convert(instance, chunked(settings, template, 200))  # warm
            one = seconds_to_convert(instances[0], whole)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda instance: seconds_to_convert(instance, half), instances))
            both = time.perf_counter() - t0
        finally:
            for instance in instances:
                instance.stop()
    print(f"{rows} rows on one instance: {one:.1f} s; two {rows // 2}-row halves at once on two instances: "
          f"{both:.1f} s; one ÷ parallel = {one / both:.2f} (load {load_before:.1f} → {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
