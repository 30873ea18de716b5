"""Chunking of long tables on the DOCX XML (worker/long_tables.py): no LibreOffice needed."""

from __future__ import annotations

import io
import zipfile

import pytest
from long_table_report import COLUMNS, build_template, report_data
from lxml import etree

from core.settings import Settings
from worker.long_tables import W, chunk_long_tables, conversion_timeout
from worker.render import render_docx

NS = {"w": W}


@pytest.fixture(scope="module")
def filled() -> dict[int, bytes]:
    """The report of tests/long_table_report.py filled with a few sizes."""
    template = build_template()
    return {n: render_docx(template, report_data(n)) for n in (150, 1000)}


def body_of(docx: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return etree.fromstring(z.read("word/document.xml")).find("w:body", NS)


def cell_texts(tr: etree._Element) -> list[str]:
    return ["".join(tc.itertext()) for tc in tr.findall("w:tc", NS)]


def test_short_table_is_left_alone(filled):
    docx, seams = chunk_long_tables(filled[150], 100)
    assert seams == 0
    assert docx == filled[150]


def test_zero_chunk_rows_turns_chunking_off(filled):
    assert chunk_long_tables(filled[1000], 0) == (filled[1000], 0)


def test_a_table_under_the_minimum_rows_is_converted_whole(filled):
    assert chunk_long_tables(filled[1000], 100, min_rows=1010) == (filled[1000], 0)   # 1 000 rows + header
    assert chunk_long_tables(filled[1000], 100, min_rows=999)[1] > 0


def test_long_table_becomes_chunks_each_starting_with_the_header(filled):
    docx, seams = chunk_long_tables(filled[1000], 100)
    tables = body_of(docx).findall("w:tbl", NS)
    assert seams == 9 and len(tables) == 10
    for table in tables:
        rows = table.findall("w:tr", NS)
        assert cell_texts(rows[0]) == list(COLUMNS)
        assert rows[0].find("w:trPr/w:tblHeader", NS) is not None
        assert all(tr.find("w:trPr/w:tblHeader", NS) is None for tr in rows[1:])
    assert [len(t.findall("w:tr", NS)) for t in tables] == [1 + 100 + 50] * 9 + [1 + 100]


def test_every_chunk_but_the_first_starts_a_page_and_no_row_inside_a_table_breaks_one(filled):
    docx, _ = chunk_long_tables(filled[1000], 100)
    tables = body_of(docx).findall("w:tbl", NS)
    starts = [[tr.find("w:tc/w:p/w:pPr/w:pageBreakBefore", NS) is not None for tr in t.findall("w:tr", NS)]
              for t in tables]
    assert [row[0] for row in starts] == [False] + [True] * 9
    assert not any(any(row[1:]) for row in starts)  # the overlap copies carry no break


def seam_names(docx: bytes) -> list[str]:
    return [b.get(f"{{{W}}}name") for b in body_of(docx).iter(f"{{{W}}}bookmarkStart")]


def test_each_table_but_the_last_ends_with_the_next_ones_first_rows(filled):
    docx, _ = chunk_long_tables(filled[1000], 100)
    tables = body_of(docx).findall("w:tbl", NS)
    for before, after in zip(tables, tables[1:], strict=False):
        shared = [cell_texts(tr) for tr in before.findall("w:tr", NS)[-50:]]
        assert shared == [cell_texts(tr) for tr in after.findall("w:tr", NS)[1:51]]
    assert seam_names(docx) == [f"_wenshu_seam_{n}_50" for n in range(9)]


def test_every_row_stays_once_and_in_order_without_the_overlap(filled):
    docx, _ = chunk_long_tables(filled[1000], 100)
    tables = body_of(docx).findall("w:tbl", NS)
    overlaps = [int(name.rsplit("_", 1)[1]) for name in seam_names(docx)] + [0]
    labels = [cell_texts(tr)[0] for table, overlap in zip(tables, overlaps, strict=True)
              for tr in table.findall("w:tr", NS)[1:len(table.findall("w:tr", NS)) - overlap]]
    assert labels == [f"登记事项第{i}号" for i in range(1, 1001)]


def test_chunks_keep_the_table_properties_and_grid(filled):
    original = body_of(filled[1000]).find("w:tbl", NS)
    want = [etree.tostring(original.find(tag, NS)) for tag in ("w:tblPr", "w:tblGrid")]
    for table in body_of(chunk_long_tables(filled[1000], 100)[0]).findall("w:tbl", NS):
        assert [etree.tostring(table.find(tag, NS)) for tag in ("w:tblPr", "w:tblGrid")] == want


def test_chunks_are_separated_by_a_hidden_one_twip_paragraph_with_a_seam_bookmark(filled):
    docx, _ = chunk_long_tables(filled[1000], 100)
    children = list(body_of(docx))
    positions = [i for i, el in enumerate(children) if el.tag == f"{{{W}}}tbl"]
    for a, b in zip(positions, positions[1:], strict=False):
        assert b - a == 2, "tables must never touch: LibreOffice would merge them again"
        seam = children[a + 1]
        assert seam.tag == f"{{{W}}}p" and "".join(seam.itertext()) == ""
        assert seam.find("w:bookmarkStart", NS).get(f"{{{W}}}name").startswith("_wenshu_seam_")
        assert seam.find("w:pPr/w:rPr/w:vanish", NS) is not None
        spacing = seam.find("w:pPr/w:spacing", NS)
        assert spacing.get(f"{{{W}}}line") == "1" and spacing.get(f"{{{W}}}lineRule") == "exact"


def test_text_around_the_table_is_kept(filled):
    before = [el.tag for el in body_of(filled[1000]) if el.tag != f"{{{W}}}tbl"]
    after = [el for el in body_of(chunk_long_tables(filled[1000], 100)[0]) if el.tag != f"{{{W}}}tbl"]
    texts = ["".join(el.itertext()) for el in after if "".join(el.itertext())]
    assert texts[0] == "政府信息公开登记表" and texts[-1] == "以上共1000条。"
    assert len(after) == len(before) + 9


def test_table_without_header_rows_gets_no_header_copies(filled):
    docx = filled[1000]
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"<w:tblHeader/>", b"")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    chunked, seams = chunk_long_tables(out.getvalue(), 100)
    tables = body_of(chunked).findall("w:tbl", NS)
    assert seams == 10  # the unmarked header row is a body row: 1 001 rows
    assert cell_texts(tables[0].findall("w:tr", NS)[0]) == list(COLUMNS)
    assert [cell_texts(t.findall("w:tr", NS)[0])[0] for t in tables[1:3]] == ["登记事项第100号", "登记事项第200号"]


def test_conversion_timeout_grows_with_the_document_up_to_twice_the_base(filled):
    settings = Settings(convert_timeout=100, convert_timeout_per_mib=10)
    small = conversion_timeout(settings, filled[150])
    large = conversion_timeout(settings, filled[1000])
    assert 100 < small < large < 200
    assert conversion_timeout(settings.with_(convert_timeout_per_mib=1000), filled[1000]) == 200
    assert conversion_timeout(settings, b"not a zip") == 100


def test_a_templates_own_seam_named_bookmark_is_renamed_so_it_is_never_mended(filled):
    docx = filled[150]
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    fake = (b'<w:p><w:bookmarkStart w:id="7" w:name="_wenshu_seam_0_x"/><w:bookmarkEnd w:id="7"/></w:p>'
            b"<w:tbl>")
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"<w:tbl>", fake, 1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    for chunk_rows in (0, 100):
        converted, seams = chunk_long_tables(out.getvalue(), chunk_rows)
        assert seams == 0
        assert seam_names(converted) == ["_wenshu_kept_0_x"]
