"""The big-table report of issue #12, built in code: the bench and the tests fill the same template.

Intro text, then one 8-column table whose first row is a header marked to repeat on every page
(``w:tblHeader``) and whose second row loops over ``rows`` (``{%tr for r in rows %}``), and a footer
"— N —" made of a PAGE field, as government reports number their pages. Built with python-docx so
nobody has to keep a binary fixture in step with the code.
"""

from __future__ import annotations

import io

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

COLUMNS = ("项目", "收到", "办结", "公开", "部分公开", "不予公开", "无法提供", "其他")


def _field(paragraph, instruction: str) -> None:
    """A complex field (PAGE, NUMPAGES) in ``paragraph``, with a placeholder result."""
    run = paragraph.add_run()
    for kind, text in (("begin", None), ("instr", instruction), ("separate", None), ("text", "1"), ("end", None)):
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {text} "
        elif kind == "text":
            el = OxmlElement("w:t")
            el.text = text
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        run._r.append(el)


def _mark(row, *flags: str) -> None:
    """Row properties such as ``w:tblHeader`` (repeat on every page) or ``w:cantSplit``."""
    tr_pr = row._tr.get_or_add_trPr()
    for flag in flags:
        tr_pr.append(OxmlElement(flag))


def build_template() -> bytes:
    """The report template as .docx bytes."""
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10.5)
    doc.add_heading("{{ title }}", level=1)
    doc.add_paragraph("本表列出{{ year }}年度全部登记事项，共{{ rows|length }}条。")
    table = doc.add_table(rows=4, cols=len(COLUMNS))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, COLUMNS, strict=True):
        cell.text = name
    _mark(table.rows[0], "w:cantSplit", "w:tblHeader")
    table.rows[1].cells[0].text = "{%tr for r in rows %}"
    keys = ("label", "a", "b", "c", "d", "e", "f", "g")
    for cell, key in zip(table.rows[2].cells, keys, strict=True):
        cell.text = "{{ r." + key + " }}"
    _mark(table.rows[2], "w:cantSplit")  # a register's row never breaks across pages
    table.rows[3].cells[0].text = "{%tr endfor %}"
    doc.add_paragraph("以上共{{ rows|length }}条。")
    footer = doc.sections[0].footer.paragraphs[0]
    footer.alignment = 1
    footer.add_run("— ")
    _field(footer, "PAGE")
    footer.add_run(" —")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def report_data(rows: int) -> dict:
    """Data for :func:`build_template`: ``rows`` rows, each labelled with its number (found and ordered by it)."""
    return {"title": "政府信息公开登记表", "year": 2025,
            "rows": [{"label": f"登记事项第{i}号", "a": i, "b": i * 3 % 97, "c": i % 13, "d": i % 7,
                      "e": i % 5, "f": i % 3, "g": i % 11} for i in range(1, rows + 1)]}
