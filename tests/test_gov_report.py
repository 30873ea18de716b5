"""The flagship templates (政府信息公开工作年度报告) read like the report an agency publishes.

The 2019 sample is the seed report (青岛市国资委, 2020); ``fixtures/gov-report-reference.txt`` is the
text extracted from its published file. Everything here renders through the real pipeline
(docxtpl + LibreOffice) and reads the result the way a reader or an archive would: PDF text,
embedded fonts, DOCX table cells.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import subprocess
from pathlib import Path

import pytest
from docx import Document

from helpers import pdf_text, squash

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
COLUMNS = [
    "natural_person", "commercial", "research", "social_welfare", "legal_services", "other_org", "total"]
FIDELITY = 0.99
"""Minimum difflib ratio between our PDF text and the published report's (whitespace removed)."""


def template(variant: str) -> tuple[bytes, dict]:
    folder = ROOT / "templates" / f"gov-info-annual-report-{variant}"
    return (folder / "template.docx").read_bytes(), json.loads((folder / "sample.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def seed(pipeline) -> dict:
    """The 2019 sample rendered once: {"pdf", "docx", "text", "data"}."""
    docx, data = template("2019")
    files = pipeline.render(docx, data, formats=("pdf", "docx"))
    return {**files, "text": pdf_text(files["pdf"]), "data": data}


def rows_with_numbers(raw_text: str) -> list[tuple[str, list[str]]]:
    """(label, numbers) per table row of ``pdftotext -raw`` output.

    A row comes out as its label (possibly wrapped over several lines) followed by its cells;
    blank cells print nothing. Consecutive text tokens are joined into one label.
    """
    rows: list[tuple[str, list[str]]] = []
    label, numbers = "", []
    for token in raw_text.split():
        if re.fullmatch(r"-?\d+", token):
            numbers.append(token)
            continue
        if numbers:
            rows.append((label, numbers))
            label, numbers = "", []
        label += token
    if numbers:
        rows.append((label, numbers))
    return rows


def numbers_after(raw_text: str, label: str) -> list[str] | None:
    """The numbers printed right after a row label, or None when no number follows it."""
    hits = [numbers for text, numbers in rows_with_numbers(raw_text) if text.endswith(squash(label))]
    assert len(hits) <= 1, f"{label} found {len(hits)} times"
    return hits[0] if hits else None


def pdf_fonts(pdf: bytes, tmp_path) -> list[tuple[str, bool]]:
    """(font name, embedded?) for every font ``pdffonts`` lists."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    fonts = []
    for line in lines[2:]:
        fields = line.split()
        # columns from the right: emb sub uni object-id generation
        fonts.append((fields[0], fields[-5] == "yes"))
    return fonts


def docx_row(docx: bytes, label: str) -> list[str]:
    """Texts of the table row holding a cell that starts with ``label``: that cell and those after it
    (a merged cell counted once)."""
    import io

    for table in Document(io.BytesIO(docx)).tables:
        for row in table.rows:
            cells: list = []
            for cell in row.cells:
                if not cells or cell._tc is not cells[-1]._tc:
                    cells.append(cell)
            texts = [cell.text for cell in cells]
            for i, text in enumerate(texts):
                if text.startswith(label):
                    return texts[i:]
    raise AssertionError(f"no table row has a cell starting with {label}")


# ---------------------------------------------------------------- the seed report ------------------
def test_seed_report_text_matches_published_report(seed):
    reference = (FIXTURES / "gov-report-reference.txt").read_text("utf-8").rstrip()
    assert reference.endswith("1")
    reference = reference[:-1]  # the published file's page number
    ours, theirs = squash(seed["text"]), squash(reference)
    # 三 follows 二 on the same page and may run onto the next one with its header rows repeated
    # (the published file started 三 on a new page): read the repeats as a reader skips them.
    header = squash("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
                    "申请人情况自然人法人或其他组织总计商业企业科研机构社会公益组织法律服务机构其他")
    end = ours.find(header) + len(header)
    ours = ours[:end] + ours[end:].replace(header, "")
    ratio = difflib.SequenceMatcher(None, ours, theirs, autojunk=False).ratio()
    assert ratio >= FIDELITY, f"fidelity {ratio:.4f} < {FIDELITY}"


def test_every_sentence_of_the_seed_is_in_the_pdf(seed):
    text = re.sub(r"—\d+—", "", squash(seed["text"]))  # read across page breaks: drop "— 2 —" footers
    data = seed["data"]
    paragraphs = data["preamble"] + data["shortcomings"] + data["other_matters"]
    paragraphs += [p for sub in data["overview"] for p in [sub["heading"], *sub["paragraphs"]]]
    for paragraph in paragraphs:
        assert squash(paragraph) in text, paragraph[:30]
    assert "五、存在的不足及改进措施" in text  # the seed's own section title


@pytest.mark.parametrize("label, path", [
    ("一、本年新收政府信息公开申请数量", "new_requests"),
    ("二、上年结转政府信息公开申请数量", "carried_over"),
    ("（一）予以公开", "results.disclosed"),
    ("2.其他法律行政法规禁止公开", "results.withheld.prohibited_by_law"),
    ("5.属于三类内部事务信息", "results.withheld.internal_affairs"),
    ("1.本机关不掌握相关政府信息", "results.unable.not_held"),
    ("（七）总计", "results.total"),
])
def test_application_numbers_sit_in_their_row_in_column_order(seed, label, path):
    row = seed["data"]["applications"]
    for key in path.split("."):
        row = row[key]
    assert numbers_after(seed["text"], label) == [str(row[c]) for c in COLUMNS]


@pytest.mark.parametrize("label", ["（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
                                   "1.属于国家秘密", "（六）其他处理", "四、结转下年度继续办理"])
def test_blank_application_rows_stay_blank(seed, label):
    assert numbers_after(seed["text"], label) is None


def test_seed_pdf_embeds_only_simplified_chinese_cjk_fonts(seed, tmp_path):
    fonts = pdf_fonts(seed["pdf"], tmp_path)
    assert fonts, "pdffonts listed no fonts"
    assert all(embedded for _name, embedded in fonts), fonts
    names = " ".join(name for name, _ in fonts)
    assert not re.search(r"CJK(jp|kr|tc|hk)", names, re.IGNORECASE), names
    assert re.search(r"NotoSerifCJKsc", names, re.IGNORECASE), names  # body text: 仿宋/宋体 → serif SC
    assert re.search(r"NotoSansCJKsc", names, re.IGNORECASE), names  # 一、 headings: 黑体 → sans SC


def test_chinese_quotation_marks_are_full_width(seed):
    # As Word sets them: one em wide, from the CJK face (a Western font gives narrow quotes that
    # pdftotext -raw also misplaces).
    import io

    import pdfplumber

    with pdfplumber.open(io.BytesIO(seed["pdf"])) as pdf:
        quotes = [c for page in pdf.pages for c in page.chars if c["text"] in "“”"]
    assert len(quotes) >= 20, len(quotes)  # the seed quotes “资通青岛” and others many times
    for char in quotes:
        assert abs(char["width"] - char["size"]) < 0.1, char
        assert "CJKsc" in char["fontname"], char["fontname"]


def test_null_prints_blank_and_zero_prints_zero_in_docx(seed):
    assert docx_row(seed["docx"], "二、上年结转")[1:] == ["0"] * 7
    assert docx_row(seed["docx"], "（二）部分公开")[-7:] == [""] * 7
    assert docx_row(seed["docx"], "政府集中采购") == ["政府集中采购", "9（件）", "3万元"]


# ---------------------------------------------------------------- edge values ----------------------
def test_negative_change_and_blank_versus_zero_render(pipeline):
    docx, data = template("2019")
    data = copy.deepcopy(data)
    data["proactive"]["licensing"] = {"previous": 5, "change": -3, "decisions": 2}
    data["proactive"]["penalty"] = {"previous": None, "change": 0, "decisions": 4}
    files = pipeline.render(docx, data, formats=("pdf", "docx"))
    assert docx_row(files["docx"], "行政许可") == ["行政许可", "5", "-3", "2"]
    assert docx_row(files["docx"], "行政处罚") == ["行政处罚", "", "0", "4"]
    text = pdf_text(files["pdf"])
    assert numbers_after(text, "行政许可") == ["5", "-3", "2"]
    assert numbers_after(text, "行政处罚") == ["0", "4"]  # the blank cell prints nothing


# ---------------------------------------------------------------- the 2021 format ------------------
def test_2021_template_renders_three_other_processing_rows(pipeline, tmp_path):
    docx, data = template("2021")
    files = pipeline.render(docx, data, formats=("pdf", "docx"))
    text = pdf_text(files["pdf"])
    other = data["applications"]["results"]["other"]
    for key, label in [
        ("no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
        ("unpaid_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
        ("other", "3.其他"),
    ]:
        assert numbers_after(text, label) == [str(other[key][c]) for c in COLUMNS], label
    assert "（六）其他处理" in squash(text)
    assert "五、存在的主要问题及改进情况" in squash(text)  # the default title when none is overridden
    assert numbers_after(text, "行政规范性文件") == ["3", "1", "21"]
    fonts = pdf_fonts(files["pdf"], tmp_path)
    assert all(embedded for _name, embedded in fonts)
    assert not re.search(r"CJK(jp|kr|tc|hk)", " ".join(n for n, _ in fonts), re.IGNORECASE)
