"""A multi-thousand-row report through the real pipeline and LibreOffice (issue #12).

The table is converted in chunks (worker/long_tables.py); what a reader of the PDF must still find:
every row once and in order, pages numbered 1…N by the "— N —" footer, the header row on every page,
and the same rows as a conversion of the table in one piece.
"""

from __future__ import annotations

import re

import pytest
from long_table_report import COLUMNS, build_template, report_data

from core.settings import Settings
from helpers import pdf_text, squash
from worker.pipeline import Pipeline

ROWS = 2000
HEADER = "".join(COLUMNS)
LABEL = re.compile(r"登记事项第(\d+)号")


@pytest.fixture(scope="module")
def big_pipeline():
    """A pipeline whose conversions may take long: a loaded 2-core machine must not fail these tests."""
    # long_table_min_rows=0: chunk this 2 000-row table (by default only tables past 3 000 rows are).
    with Pipeline(Settings(env="test", convert_timeout=900, long_table_min_rows=0)) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def big_pdf_pages(big_pipeline) -> list[str]:
    """The PDF of the 2 000-row report, one squashed text per page."""
    pdf = big_pipeline.render(build_template(), report_data(ROWS), ("pdf",))["pdf"]
    pages = pdf_text(pdf).split("\f")
    return [squash(page) for page in pages if page.strip()]


def test_every_row_appears_once_and_in_order(big_pdf_pages):
    numbers = [int(n) for page in big_pdf_pages for n in LABEL.findall(page)]
    assert numbers == list(range(1, ROWS + 1))


def test_pages_are_numbered_one_to_n_without_gaps(big_pdf_pages):
    footers = [re.findall(r"—(\d+)—", page) for page in big_pdf_pages]
    assert footers == [[str(n)] for n in range(1, len(big_pdf_pages) + 1)]
    assert len(big_pdf_pages) > 100


def test_header_row_is_on_every_page_and_only_at_its_top(big_pdf_pages):
    counts = {n: page.count(HEADER) for n, page in enumerate(big_pdf_pages, 1)}
    assert {n: c for n, c in counts.items() if c != 1} == {}


def test_chunked_conversion_reads_exactly_as_a_single_conversion(big_pipeline):
    """300 rows, small enough for LibreOffice in one piece: chunked, the PDF's text is the same."""
    template, data = build_template(), report_data(300)

    def text(chunk_rows: int) -> str:
        variant = Pipeline(big_pipeline.settings.with_(long_table_chunk_rows=chunk_rows),
                           supervisor=big_pipeline.supervisor)
        return pdf_text(variant.render(template, data, ("pdf",))["pdf"])

    chunked, single = text(40), text(0)
    assert [int(n) for n in LABEL.findall(squash(chunked))] == list(range(1, 301))
    assert chunked == single
