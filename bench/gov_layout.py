"""Pages of the flagship report at four sizes, both formats, and the import read-back of each.

Renders tests/fixtures/gov_sizes/ (zero, short, large) and each bundled sample (medium) through an
in-process Pipeline, then per document prints: pages, how full each page is (text/table bottom over
the GB/T 9704 text height), whether a table on a non-last page ends on a heading row, and how long
an isolated import (core/report_import, child process with the import limits) takes and whether it
gives back exactly the data. With ``--png DIR`` it also writes pdftoppm -r 50 page images there.

    .venv/bin/python bench/gov_layout.py [--png /tmp/gov_pages] [--templates DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_gov_layout import CASES, fixture_data, is_data_row, pages  # noqa: E402

from core.report_import.isolated import import_isolated  # noqa: E402
from core.settings import Settings  # noqa: E402
from worker.pipeline import Pipeline  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=Path, help="write page images (pdftoppm -r 50) into this directory")
    parser.add_argument("--templates", type=Path, default=ROOT / "templates",
                        help="folder of gov-info-annual-report-*/template.docx (e.g. an older build, to compare)")
    args = parser.parse_args()
    settings = Settings(env="test")
    with Pipeline(settings) as pipeline:
        for variant, size in CASES:
            docx = (args.templates / f"gov-info-annual-report-{variant}" / "template.docx").read_bytes()
            data = fixture_data(variant, size)
            pdf = pipeline.produce(docx, data, ("pdf",)).files["pdf"]
            read = pages(pdf)
            fills = " ".join(f"{p['fill']:.0%}" for p in read)
            orphans = sum(not is_data_row(t[-1], variant) for p in read[:-1] for t in p["tables"])
            t0 = time.perf_counter()
            result = import_isolated(pdf, variant, settings)
            took = time.perf_counter() - t0
            exact = result["data"] == data and not result["unread"]
            print(f"{variant} {size:6} pages {len(read):2}  fill {fills}  heading rows ending a page: {orphans}  "
                  f"import {took:.1f} s exact={exact}")
            if args.png:
                args.png.mkdir(parents=True, exist_ok=True)
                path = args.png / f"{variant}-{size}.pdf"
                path.write_bytes(pdf)
                subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(args.png / f"{variant}-{size}")],
                               check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
