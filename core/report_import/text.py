"""Text helpers shared by the PDF and DOCX readers: how a printed label or cell becomes comparable.

Different tools print the same form differently: full- or half-width punctuation, numbering such as
``（三）`` or ``3.``, a parenthetical remark, line breaks inside a cell, and (PDF only) spaces that
a text extractor invents where Latin digits meet Chinese. These helpers fold all of that away.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+、|\([一二三四五六七八九十\d]+\)|\d+[.、])")
_PUNCT = re.compile(r"[“”\"'‘’、，,。.：:；;\s]")
_CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
_SPACE_BY_CJK = re.compile(rf"(?<={_CJK})\s+|\s+(?={_CJK})")
SECTION_HEADING = re.compile(r"^([一二三四五六])、\s*(.+)$")
SUB_HEADING = re.compile(r"^（[一二三四五六七八九十]+）[^。；]{1,40}$")


@dataclass
class Block:
    """One piece of a report in reading order: a title line, a paragraph, or a table (rows of cells)."""

    kind: str  # "title" | "para" | "table"
    text: str = ""
    rows: list[list[str | None]] = field(default_factory=list)
    where: str = ""


def tidy(text: str) -> str:
    """A paragraph's text as written: the spaces an extractor puts next to Chinese characters (justified
    lines, Chinese–Latin spacing) removed; Chinese text has none of its own."""
    return _SPACE_BY_CJK.sub("", text.strip())


def label_key(text: str) -> tuple[str, str]:
    """(the label's distinctive words, the parenthetical remark after them) of a table cell.

    ``"（二）部分公开（区分处理的…）"`` → ``("部分公开", "（区分处理的…）")``; ``"规章\\n（市政府令）"`` →
    ``("规章", "（市政府令）")``.
    """
    folded = unicodedata.normalize("NFKC", re.sub(r"\s+", "", text))
    folded = _NUMBERING.sub("", folded)
    head, paren, _rest = folded.partition("(")
    note = ""
    if paren:
        original = re.sub(r"\s+", "", text)
        start = original.find("（") if "（" in original else original.find("(")
        note = original[start:]
    return _PUNCT.sub("", head), note


def cell_value(text: str | None) -> Any:
    """A table cell's value: None when blank, int or float when a number, else the text as printed."""
    if text is None:
        return None
    compact = re.sub(r"\s+", "", text)
    if not compact:
        return None
    if re.fullmatch(r"-?\d+", compact):
        return int(compact)
    if re.fullmatch(r"-?\d+\.\d+", compact):
        return float(compact)
    return compact


def is_value(text: str | None) -> bool:
    """Whether a cell reads as a figure (or a blank figure cell)."""
    return text is not None and (not text.strip() or isinstance(cell_value(text), (int, float)))
