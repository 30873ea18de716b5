"""The flagship report looks published at every size, in both formats.

Four sizes a year's reports come in — an all-zero township report, a short district one, the bundled
sample and a long one (tests/fixtures/gov_sizes/, made by scripts/build_gov_fixtures.py) — each
rendered once through the real pipeline and read back from the PDF with pdfplumber, as a reader
pages through it: no table block ends a page on its heading rows, 三 and 四 carry their header on
every page they span, no page but the last is left under half full, and every figure sits in its
own cell (the cells read back are the data).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pdfplumber
import pytest

from core.report_import import FORMS, import_report
from core.report_import.pdf_reader import page_tables
from core.report_import.text import SECTION_HEADING, SUB_HEADING, label_key

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("zero", "short", "medium", "large")
CASES = [(variant, size) for variant in ("2019", "2021") for size in SIZES]
MM = 72 / 25.4
TOP, BOTTOM = 37 * MM, 35 * MM  # GB/T 9704 margins of the template
APPLICATIONS_HEADER = "申请人情况"
FOOTER = re.compile(r"^[—-]\s*\d+\s*[—-]$")


def fixture_data(variant: str, size: str) -> dict:
    path = (ROOT / "templates" / f"gov-info-annual-report-{variant}" / "sample.json" if size == "medium"
            else ROOT / "tests" / "fixtures" / "gov_sizes" / f"{variant}-{size}.json")
    return json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def rendered(pipeline) -> dict[tuple[str, str], dict]:
    """Every size of both formats rendered and read once: {(variant, size): {"pdf", "pages"}}."""
    out = {}
    for variant, size in CASES:
        docx = (ROOT / "templates" / f"gov-info-annual-report-{variant}" / "template.docx").read_bytes()
        pdf = pipeline.render(docx, fixture_data(variant, size), formats=("pdf",))["pdf"]
        out[variant, size] = {"pdf": pdf, "pages": pages(pdf)}
    return out


def pages(pdf: bytes) -> list[dict]:
    """Per page: its text lines outside tables (footer dropped), its tables (rows of cells), its fill."""
    out = []
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            tables = page_tables(page)
            boxes = [t.bbox for t in tables]
            lines = [line for line in page.filter(
                lambda o, boxes=boxes: not any(b[0] - 1 <= o.get("x0", 0) <= b[2] + 1 and b[1] - 1 <= o.get(
                    "top", 0) <= b[3] + 1 for b in boxes)).extract_text_lines()
                if not FOOTER.match(line["text"].strip())]
            bottoms = [line["bottom"] for line in lines] + [t.bbox[3] for t in tables]
            fill = (max(bottoms, default=TOP) - TOP) / (page.height - TOP - BOTTOM)
            out.append({"lines": lines, "tables": [t.extract() for t in tables], "fill": fill,
                        "last_top": max(bottoms, default=0)})
    return out


def is_data_row(row: list[str | None], variant: str) -> bool:
    """A row of figures: a 二/三 row whose label the form knows (its figures may be blank), or 四's."""
    form = FORMS[variant]
    keys = {label_key(cell)[0] for cell in row if cell}
    if keys & (set(form.proactive) | set(form.applications)):
        return True
    figures = [c for c in row if c is not None]
    return len(figures) >= 15 and all(re.fullmatch(r"\d*", c.strip()) for c in figures)


@pytest.mark.parametrize("variant, size", CASES)
def test_no_page_but_the_last_is_under_half_full(rendered, variant, size):
    fills = [round(p["fill"], 2) for p in rendered[variant, size]["pages"]]
    assert all(fill >= 0.5 for fill in fills[:-1]), fills


@pytest.mark.parametrize("variant, size", CASES)
def test_no_table_ends_a_page_on_its_heading_rows(rendered, variant, size):
    for number, page in enumerate(rendered[variant, size]["pages"][:-1], start=1):
        for table in page["tables"]:
            assert is_data_row(table[-1], variant), f"page {number}: a table ends on {table[-1]}"


@pytest.mark.parametrize("variant, size", CASES)
def test_no_heading_ends_a_page(rendered, variant, size):
    for number, page in enumerate(rendered[variant, size]["pages"][:-1], start=1):
        lines = [line for line in page["lines"] if line["bottom"] >= page["last_top"] - 1]
        for line in lines:
            text = line["text"].replace(" ", "")
            assert not (SECTION_HEADING.match(text) or SUB_HEADING.match(text)), f"page {number} ends on {text}"


@pytest.mark.parametrize("variant, size", CASES)
def test_applications_and_review_tables_repeat_their_header_on_every_page(rendered, variant, size):
    form = FORMS[variant]
    spanned = 0
    for number, page in enumerate(rendered[variant, size]["pages"], start=1):
        for table in page["tables"]:
            keys = {label_key(cell)[0] for row in table for cell in row if cell}
            head = "".join(cell or "" for row in table[:3] for cell in row)
            if keys & set(form.applications) - {"其他", "总计"}:  # words 四 shares
                spanned += 1
                assert APPLICATIONS_HEADER in head, f"page {number}: 三 continues without its header"
            if any(is_data_row(row, variant) and len([c for c in row if c is not None]) >= 15 for row in table):
                assert "行政复议" in head, f"page {number}: 四 without its header"
    assert spanned >= 1


@pytest.mark.parametrize("variant, size", CASES)
def test_every_figure_sits_in_its_cell(rendered, variant, size):
    expected = fixture_data(variant, size)
    got = import_report(rendered[variant, size]["pdf"], variant, max_pages=50)
    for table in ("proactive", "applications", "reviews_litigation"):
        assert got["data"][table] == expected[table], table
    assert got["unread"] == []
