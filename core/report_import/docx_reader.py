"""A report as .docx → blocks in reading order (title lines, paragraphs, tables).

python-docx gives paragraphs and tables in body order; a paragraph styled ``Title`` or centred
before the first body paragraph is a title line. Table cells merged across columns or rows are
read once (later slots are None), as in the PDF reader, so one assembler serves both. The archive
is checked by :func:`core.docx_safety.check_docx` first (zip bombs, oversize parts, external
references) — only then does python-docx parse it.
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.table import Table
from docx.text.paragraph import Paragraph

from core.docx_safety import check_docx
from core.errors import TemplateRejected, UnreadableReport

from .text import Block, tidy


def read_docx(content: bytes) -> list[Block]:
    """Blocks of a .docx report.

    Raises:
        UnreadableReport: the archive fails the safety checks or is not a Word document.
    """
    try:
        check_docx(content)
        document = Document(io.BytesIO(content))
    except TemplateRejected as exc:
        raise UnreadableReport(f"the .docx was refused: {exc.detail}", errors=exc.errors) from exc
    except Exception as exc:  # python-docx/lxml raise many types on a damaged package
        raise UnreadableReport("the file is not a readable .docx",
                               errors=[{"path": "file", "message": type(exc).__name__}]) from exc
    blocks: list[Block] = []
    for number, child in enumerate(document.element.body.iterchildren(), start=1):
        where = f"body element {number}"
        if child.tag.endswith("}p"):
            paragraph = Paragraph(child, document)
            text = tidy(paragraph.text)
            if not text:
                continue
            kind = "title" if _is_title(paragraph) and not any(b.kind == "para" for b in blocks) else "para"
            blocks.append(Block(kind, text=text, where=where))
        elif child.tag.endswith("}tbl"):
            blocks.append(Block("table", rows=_rows(Table(child, document)), where=where))
    return blocks


def _is_title(paragraph: Paragraph) -> bool:
    style = paragraph.style.name if paragraph.style is not None else ""
    centred = paragraph.alignment == WD_ALIGN_PARAGRAPH.CENTER or (
        paragraph.style is not None and paragraph.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER)
    return style.startswith("Title") or centred


def _rows(table: Table) -> list[list[str | None]]:
    rows = []
    above: list = []
    for row in table.rows:
        cells = list(row.cells)
        texts: list[str | None] = []
        for i, cell in enumerate(cells):
            repeated = (i and cell._tc is cells[i - 1]._tc) or (i < len(above) and cell._tc is above[i]._tc)
            texts.append(None if repeated else "\n".join(p.text for p in cell.paragraphs))
        above = cells
        rows.append(texts)
    return rows
