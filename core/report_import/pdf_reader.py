"""A published report as PDF → blocks in reading order (title lines, paragraphs, tables).

pdfplumber finds the ruled tables (the forms are always ruled) and the text lines outside them.
Paragraphs are rebuilt from line geometry, the way a reader sees them: a paragraph starts on an
indented line (Chinese first-line indent), after a line that stops short of the right margin, after
a gap wider than the line pitch (space between paragraphs), or after a table; it runs on across
page breaks. Lines set clearly larger than the body are the title.
Page footers (``— 3 —``, a bare number) are dropped.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter

import pdfplumber
from pdfminer.pdfparser import PDFSyntaxError

from core.errors import UnreadableReport

from .text import SECTION_HEADING, Block, tidy

_FOOTER = re.compile(r"^[—–\-－_]*\s*\d{1,4}\s*[—–\-－_]*$")


def read_pdf(content: bytes, max_pages: int) -> list[Block]:
    """Blocks of a PDF report.

    Raises:
        UnreadableReport: not a PDF pdfplumber can open, or more than ``max_pages`` pages.
    """
    try:
        pdf = pdfplumber.open(io.BytesIO(content))
    except (PDFSyntaxError, Exception) as exc:  # pdfminer raises many types on malformed input
        raise UnreadableReport("the file is not a readable PDF",
                               errors=[{"path": "file", "message": type(exc).__name__}]) from exc
    with pdf:
        pages = len(pdf.pages)
        if pages > max_pages:
            raise UnreadableReport(f"the PDF has {pages} pages; an annual report import reads at most {max_pages}",
                                   errors=[{"path": "file", "message": f"{pages} pages > {max_pages}"}])
        items: list[tuple[str, object, str]] = []
        for number, page in enumerate(pdf.pages, start=1):
            items.extend(_page_items(page, number))
    return _paragraphs(items)


def _page_items(page, number: int) -> list[tuple[str, object, str]]:
    """("line", line dict, where) and ("table", rows, where) of one page, top to bottom."""
    tables = page_tables(page)
    boxes = [t.bbox for t in tables]

    def outside(obj) -> bool:
        return not any(x0 - 1 <= obj.get("x0", 0) <= x1 + 1 and top - 1 <= obj.get("top", 0) <= bottom + 1
                       for x0, top, x1, bottom in boxes)

    placed: list[tuple[float, str, object, str]] = []
    for table in tables:
        placed.append((table.bbox[1], "table", table.extract(), f"page {number}"))
    for line in page.filter(outside).extract_text_lines(return_chars=True):
        if not _FOOTER.match(line["text"].strip()):
            placed.append((line["top"], "line", line, f"page {number}"))
    placed.sort(key=lambda item: item[0])
    return [(kind, payload, where) for _top, kind, payload, where in placed]


def _margin(lines: list[dict], edge: str, pick) -> float:
    """The text block's left (right) edge: the outermost x where several lines start (end); the
    most common one can be the indented first line when paragraphs are short."""
    counts = Counter(round(line[edge]) for line in lines)
    enough = max(2, max(counts.values()) // 4)
    return pick(x for x, n in counts.items() if n >= enough)


def page_tables(page) -> list:
    """The ruled tables of a pdfplumber page, each found on its own (see :func:`_split_at_gaps`)."""
    return [part for table in page.find_tables() for part in _split_at_gaps(page, table)]


def _split_at_gaps(page, table) -> list:
    """pdfplumber joins two ruled tables separated by a heading into one grid (the columns of both);
    cut it where its rows leave a vertical gap and find each part's own grid again."""
    rows = sorted((r.bbox for r in table.rows), key=lambda box: box[1])
    groups: list[list[float]] = []
    for x0, top, x1, bottom in rows:
        if groups and top - groups[-1][3] < 6:
            groups[-1][3] = max(groups[-1][3], bottom)
        else:
            groups.append([x0, top, x1, bottom])
    if len(groups) < 2:
        return [table]
    parts = []
    for _x0, top, _x1, bottom in groups:
        crop = page.crop((table.bbox[0] - 2, top - 2, table.bbox[2] + 2, bottom + 2))
        parts.extend(crop.find_tables())
    return parts


def _paragraphs(items: list[tuple[str, object, str]]) -> list[Block]:
    lines = [payload for kind, payload, _ in items if kind == "line"]
    if not lines:
        return [Block("table", rows=payload, where=where) for kind, payload, where in items]
    body_size = statistics.median(c["size"] for line in lines for c in line["chars"][:3])
    left, right = _margin(lines, "x0", min), _margin(lines, "x1", max)
    steps = [b["top"] - a["top"] for a, b in zip(lines, lines[1:], strict=False)
             if 0 < b["top"] - a["top"] < body_size * 2.5]
    pitch = statistics.median(steps) if steps else body_size * 2
    blocks: list[Block] = []
    previous = None  # the last line of the open paragraph
    for kind, payload, where in items:
        if kind == "table":
            blocks.append(Block("table", rows=payload, where=where))
            previous = None
            continue
        line = payload
        text = line["text"]
        size = statistics.median(c["size"] for c in line["chars"])
        if size >= body_size * 1.25 and not any(b.kind == "para" for b in blocks):
            blocks.append(Block("title", text=tidy(text), where=where))
            previous = None
            continue
        starts = (previous is None or line["x0"] > left + size * 0.5 or previous["x1"] < right - size * 3
                  or 0 < line["top"] - previous["top"] and line["top"] - previous["top"] > pitch * 1.4
                  or SECTION_HEADING.match(text.strip()) is not None)
        if starts:
            blocks.append(Block("para", text=tidy(text), where=where))
        else:
            blocks[-1].text = tidy(blocks[-1].text + text)
        previous = line
    return blocks
