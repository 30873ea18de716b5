"""Blocks of a published report → the template's data, plus what could not be read and where.

Reading is by meaning, not position: a table row is recognised by its printed label (the form's
wording, numbering and remarks folded away), its figures are the cells after the label, so the
report may come from any tool and its tables may be split over pages (repeated headers are simply
rows without figures). Narrative paragraphs go under the section heading (一、…六、) and, in 一,
under the （一） sub-heading they follow. Blank cells stay None and 0 stays 0.
"""

from __future__ import annotations

import re
from typing import Any

from .forms import APPLICANT_COLUMNS, DEFAULT_SECTION_TITLES, REVIEW_GROUPS, REVIEW_RESULTS, SECTION_KEYS, Form
from .text import SECTION_HEADING, SUB_HEADING, Block, cell_value, is_value, label_key

_NUMERALS = "一二三四五六"
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_BLANK_MARKS = {"—", "-", "－", "–", "/", "／"}


def assemble(blocks: list[Block], form: Form) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The data a report's blocks carry, and ``[{where, what}]`` for everything left unread."""
    reader = _Reader(form)
    for block in blocks:
        reader.take(block)
    return reader.finish()


class _Reader:
    def __init__(self, form: Form) -> None:
        self.form = form
        self.unread: list[dict[str, str]] = []
        self.titles: list[str] = []
        self.section: str | None = None  # None: the preamble
        self.section_titles: dict[str, str] = {}
        self.paragraphs: dict[str, list[str]] = {"preamble": [], "shortcomings": [], "other_matters": []}
        self.overview: list[dict[str, Any]] = []
        self.found: dict[str, Any] = {}  # "applications.<path>" / "proactive.<key>" / "reviews" → values

    # ------------------------------------------------------------------ narrative
    def take(self, block: Block) -> None:
        if block.kind == "table":
            for row in block.rows:
                self._row(row, block)
            return
        if block.kind == "title" or (self.section is None and not self.paragraphs["preamble"]
                                     and "年度报告" in block.text and len(block.text) <= 60):
            self.titles.append(block.text)
            return
        heading = SECTION_HEADING.match(block.text)
        if heading and len(block.text) <= 40:
            self.section = SECTION_KEYS[_NUMERALS.index(heading.group(1))]
            title = heading.group(2).strip()
            if title != DEFAULT_SECTION_TITLES[self.section]:
                self.section_titles[self.section] = title
            return
        self._paragraph(block)

    def _paragraph(self, block: Block) -> None:
        if self.section is None:
            self.paragraphs["preamble"].append(block.text)
        elif self.section == "overview":
            if SUB_HEADING.match(block.text):
                self.overview.append({"heading": block.text, "paragraphs": []})
            elif self.overview:
                self.overview[-1]["paragraphs"].append(block.text)
            else:
                self.unread.append({"where": block.where,
                                    "what": f"paragraph under 一 before any （一） sub-heading: {block.text[:40]}"})
        elif self.section in self.paragraphs:
            self.paragraphs[self.section].append(block.text)
        else:
            self.unread.append({"where": block.where,
                                "what": f"paragraph in a table section (no field for it): {block.text[:40]}"})

    # ------------------------------------------------------------------ tables
    def _row(self, row: list[str | None], block: Block) -> None:
        cells = list(row)
        values = [c for c in cells if c is not None]
        if len(values) == 15 and all(_figure_like(c) for c in values) and any(c and c.strip() for c in values):
            self._put(block, "reviews", "行政复议、行政诉讼", values)
            return
        labelled = [(i, self._known(key), note) for i, c in enumerate(cells) if c is not None and not _figure_like(c)
                    for key, note in [label_key(c)]]
        known = [(i, key, note) for i, key, note in labelled
                 if key in self.form.proactive or key in self.form.applications]
        if not known:
            if labelled and any(_figure_like(c) and c.strip() for c in values):
                self.unread.append({"where": block.where, "what": f"table row '{_flat(cells[labelled[-1][0]])}' "
                                                                  "matches no field of the form"})
            return
        i, key, note = known[-1]
        after = [c for c in cells[i + 1:] if c is not None]
        if key in self.form.proactive and after:  # 二's figures may be text ("9（件）")
            self._put(block, "proactive." + key, cells[i], after, note)
        elif after and sum(_figure_like(c) for c in after) * 2 >= len(after):  # else a header row
            self._put(block, "applications." + self.form.applications[key], cells[i], after)

    def _known(self, key: str) -> str:
        """``key``, or the one label of the form it begins (a row cut by a page break: its label's
        last characters went to the next page, its figures stayed)."""
        labels = [*self.form.proactive, *self.form.applications]
        if key in labels or len(key) < 6:
            return key
        longer = [label for label in labels if label.startswith(key)]
        return longer[0] if len(longer) == 1 else key

    def _put(self, block: Block, slot: str, label: str, cells: list[str], note: str = "") -> None:
        if slot in self.found:
            self.unread.append({"where": block.where, "what": f"table row '{_flat(label)}' appears twice; "
                                                              "the first one is kept"})
            return
        self.found[slot] = (cells, note, block.where, _flat(label))

    # ------------------------------------------------------------------ result
    def finish(self) -> tuple[dict[str, Any], list[dict[str, str]]]:
        data: dict[str, Any] = {**self._title(), "preamble": self.paragraphs["preamble"], "overview": self.overview}
        if self.section_titles:
            data["section_titles"] = self.section_titles
        data["proactive"] = self._proactive()
        data["applications"] = self._applications()
        data["reviews_litigation"] = self._reviews()
        data["shortcomings"] = self.paragraphs["shortcomings"]
        data["other_matters"] = self.paragraphs["other_matters"]
        return data, self.unread

    def _title(self) -> dict[str, Any]:
        out: dict[str, Any] = {"agency": "", "year": None}
        lines = list(self.titles)
        report = next((t for t in lines if "年度报告" in t), None)
        if report is None:
            self.unread.append({"where": "title", "what": "no title line naming the report year"})
        else:
            year = _YEAR.search(report)
            out["year"] = int(year.group(1)) if year else None
            prefix = report[:year.start()] if year else ""
            if year and report[year.start():] != f"{out['year']}年政府信息公开工作年度报告":
                out["title"] = report[year.start():] if prefix else report
            lines.remove(report)
            if prefix and not lines:
                lines = [prefix]
        if lines:
            out["agency"] = "".join(lines)
        else:
            self.unread.append({"where": "title", "what": "no line naming the agency"})
        return out

    def _figures(self, slot: str, fields: tuple[str, ...], numeric_only: bool = True) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(fields)
        if slot not in self.found:
            self.unread.append({"where": "tables", "what": f"no row for {slot} (read as blank)"})
            return row
        cells, _note, where, label = self.found[slot]
        if len(cells) < len(fields):
            self.unread.append({"where": where, "what": f"row '{label}' has {len(cells)} figures, "
                                                        f"the form has {len(fields)}"})
        for name, text in zip(fields, cells, strict=False):
            value = None if text.strip() in _BLANK_MARKS else cell_value(text)
            if numeric_only and not (value is None or isinstance(value, (int, float))):
                self.unread.append({"where": where, "what": f"row '{label}', {name}: '{text}' is not a number"})
                value = None
            row[name] = value
        return row

    def _proactive(self) -> dict[str, Any]:
        out = {}
        for _label, (key, fields) in self.form.proactive.items():
            slot = f"proactive.{_label}"
            row = self._figures(slot, fields, numeric_only=key != "procurement")
            note = self.found.get(slot, (None, ""))[1]
            if note and key in self.form.notes:
                row["label_note"] = note
            out[key] = row
        return out

    def _applications(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path in self.form.application_paths:
            node = out
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = self._figures(f"applications.{path}", APPLICANT_COLUMNS)
        return out

    def _reviews(self) -> dict[str, Any]:
        fields = tuple(f"{g}.{r}" for g in REVIEW_GROUPS for r in REVIEW_RESULTS)
        flat = self._figures("reviews", fields)
        return {g: {r: flat[f"{g}.{r}"] for r in REVIEW_RESULTS} for g in REVIEW_GROUPS}


def _figure_like(text: str | None) -> bool:
    return text is not None and (text.strip() in _BLANK_MARKS or is_value(text))


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)[:40]
