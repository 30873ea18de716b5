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
    with Pipeline(Settings(env="test", convert_timeout=900)) as pipeline:
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


def test_header_row_is_on_every_page(big_pdf_pages):
    missing = [n for n, page in enumerate(big_pdf_pages, 1) if HEADER not in page]
    assert missing == []


def test_chunked_conversion_has_the_rows_of_a_single_conversion(big_pipeline):
    """300 rows, small enough for LibreOffice in one piece: the chunked PDF reads the same rows.

    Lines are compared without the header row, which a chunk starting mid-page shows once more
    (the documented price of the seams, README "Big documents").
    """
    template, data = build_template(), report_data(300)

    def rows_text(chunk_rows: int) -> list[str]:
        variant = Pipeline(big_pipeline.settings.with_(long_table_chunk_rows=chunk_rows),
                           supervisor=big_pipeline.supervisor)
        text = pdf_text(variant.render(template, data, ("pdf",))["pdf"])
        lines = [squash(line) for line in text.splitlines()]
        return [line for line in lines if line and line != HEADER and not re.fullmatch(r"—\d+—", line)]

    chunked, single = rows_text(50), rows_text(0)
    assert [int(n) for n in LABEL.findall("".join(chunked))] == list(range(1, 301))
    assert "".join(chunked) == "".join(single)
