"""A multi-thousand-row report through the real pipeline and LibreOffice (issue #12).

The table is converted in chunks (worker/long_tables.py); what a reader of the PDF must still find:
every row once and in order, pages numbered 1…N by the "— N —" footer, the header row on every page,
and the same rows as a conversion of the table in one piece.
"""

from __future__ import annotations

import io
import re
import zipfile

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
    # long_table_min_rows=0: the small tables below are chunked too (by default only tables past 1 000 rows are).
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


def converted_pages(pipeline: Pipeline, template: bytes, data: dict, chunk_rows: int) -> list[str]:
    """The PDF of ``data`` in ``template`` with tables chunked by ``chunk_rows``, one squashed text per page."""
    variant = Pipeline(pipeline.settings.with_(long_table_chunk_rows=chunk_rows), supervisor=pipeline.supervisor)
    pdf = variant.render(template, data, ("pdf",))["pdf"]
    return [squash(page) for page in pdf_text(pdf).split("\f") if page.strip()]


def without_cant_split(docx: bytes) -> bytes:
    """``docx`` with every row allowed to break across pages."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                assert b"<w:cantSplit/>" in data
                data = data.replace(b"<w:cantSplit/>", b"")
            dst.writestr(info, data)
    return out.getvalue()


def assert_reads_as_one_table(pages: list[str], rows: int, label: re.Pattern = LABEL) -> None:
    """Every row once and in order, the header exactly once on every page and at the top of every
    page after the first, pages numbered 1…N."""
    assert [int(n) for page in pages for n in label.findall(page)] == list(range(1, rows + 1))
    assert {n: page.count(HEADER) for n, page in enumerate(pages, 1) if page.count(HEADER) != 1} == {}
    # pdftotext puts the footer first: what follows it is the top of the page
    tops = [re.sub(r"^—\d+—", "", page)[:len(HEADER)] for page in pages[1:]]
    assert [n for n, top in enumerate(tops, 2) if top != HEADER] == []
    assert [re.findall(r"—(\d+)—", page) for page in pages] == [[str(n)] for n in range(1, len(pages) + 1)]


def test_a_seam_whose_shared_rows_are_fewer_than_a_page_holds_ends_its_page_short(big_pipeline):
    """Chunks of 10 rows share 5 with the next, a page holds 17: no shared row starts a page, so each
    seam keeps its page break and drops the shared rows; no row is lost or shown twice."""
    pages = converted_pages(big_pipeline, build_template(), report_data(120), chunk_rows=10)
    assert_reads_as_one_table(pages, 120)
    assert [len(LABEL.findall(page)) for page in pages] == [10] * 12


def test_rows_that_break_across_pages_at_a_seam_are_shown_once_with_the_header_on_every_page(big_pipeline):
    """Rows allowed to split, every ninth one taller than a page: pages break inside rows, so a seam
    can only be mended at a page that starts with a whole row, or ends its page short."""
    template = without_cant_split(build_template())
    data = report_data(100)
    for row in data["rows"][8::9]:
        row["b"] = "长" * 320  # ~60 lines in a 2 cm column: taller than a page
    pages = converted_pages(big_pipeline, template, data, chunk_rows=20)
    # a row that breaks across pages may leave "登记事项" on one page and "第N号" on the next
    assert_reads_as_one_table(pages, 100, label=re.compile(r"第(\d+)号"))
    assert len(pages) > 20


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
