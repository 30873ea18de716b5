"""From a line of a compiled template part to what its author sees: paragraph and tag.

docxtpl renders each part (word/document.xml, headers, footers) as one Jinja template, with one
paragraph per line. Jinja reports lines of that text, which mean nothing to someone editing in
Word. The paragraphs are numbered the way ``POST /v1/templates/lint`` numbers them (1-based,
document order, table paragraphs included): each ``w:p`` is marked with its number, the part is
patched as docxtpl patches it, and a line then names the paragraphs it came from — more than one
when docxtpl moved a ``{%tr``/``{%p`` tag out of a removed paragraph onto the line before.

Only a failed or warned render pays for this, once per template: a map depends only on the
template's bytes (and on docxtpl's patching and our Jinja parser, the same in every render), so a
worker keeps it by the template's digest (worker/template_cache.py) for the next warned render.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

from core.undefined import Miss
from core.variables import ITEMS, references

from .template_cache import DigestCache, digest

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_P, _T = f"{{{W}}}p", f"{{{W}}}t"
_MARK = re.compile(r'<w:p [^>]*wenshu-p="(\d+)"')
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


INT_BYTES = sys.getsizeof(10**6)
"""A line's paragraph number (small ints are shared, larger ones are not)."""
REF_BYTES = 200
"""One (line, path) reference: a tuple, an int and a short string."""


class PartMap:
    """Paragraph texts of one part and, per line of the patched part, its first paragraph."""

    def __init__(self, part_xml: bytes, patch: Callable[[str], str], parse: Callable[[str], Any]) -> None:
        root = etree.fromstring(part_xml, _SAFE_PARSER)
        paragraphs = list(root.iter(_P))
        self.texts = [_own_text(p) for p in paragraphs]
        for number, paragraph in enumerate(paragraphs, 1):
            paragraph.set("wenshu-p", str(number))
        source = re.sub(r"<w:p([ >])", r"\n<w:p\1", patch(etree.tostring(root, encoding="unicode")))
        self.starts = [int(m.group(1)) if (m := _MARK.match(line)) else None for line in source.split("\n")]
        try:
            self.refs = references(parse(source))
        except Exception:  # noqa: BLE001 - the part rendered, so it parses; paths are a bonus
            self.refs = []
        self.weight = (sys.getsizeof(self.texts) + sum(map(sys.getsizeof, self.texts))
                       + sys.getsizeof(self.starts) + INT_BYTES * len(self.starts) + REF_BYTES * len(self.refs))
        """The bytes this map holds, Python's object overheads included (what bounds the cache of maps)."""

    def span(self, line: int | None) -> range:
        """Paragraph numbers whose tags can be on ``line``: its own and removed ones after it."""
        if not line or line > len(self.starts):
            return range(1, len(self.texts) + 1)
        first = self.starts[line - 1] or 1
        after = next((n for n in self.starts[line:] if n), len(self.texts) + 1)
        return range(first, max(after, first + 1))

    def locate(self, line: int | None, name: str | None = None,
               fails: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """``{paragraph, tag}`` of the tag on ``line`` that uses ``name``, or else the first one
        ``fails`` does not clear (a tag that evaluates fine on its own did not raise)."""
        word = re.compile(rf"(?<![\w.]){re.escape(name)}\b|\.{re.escape(name)}\b") if name else None
        fallback: dict[str, Any] | None = None
        for number in self.span(line):
            for tag in _TAG.findall(self.texts[number - 1]):
                if word is not None and not word.search(tag):
                    fallback = fallback or {"paragraph": number, "tag": None}
                elif word is not None or fails is None or fails(tag):
                    return {"paragraph": number, "tag": tag}
                else:
                    fallback = fallback or {"paragraph": number, "tag": tag}
        return fallback or {"paragraph": None, "tag": None}

    def path(self, line: int | None, name: str) -> str:
        """The full path of ``name`` as used on ``line`` (``candidate.nmae`` for ``nmae``)."""
        for at, path in self.refs:
            trimmed = path.removesuffix(ITEMS)
            if at == line and re.split(r"\.|\[\]", trimmed)[-1] == name:
                return trimmed
        return name


MAPS: DigestCache[PartMap | None] = DigestCache(max_entries=64, max_bytes=64 * 1024 * 1024,
                                                size=lambda m: m.weight if m is not None else 0)
"""Part maps by template digest and part name; 64 MiB of paragraph text at most."""


def part_maps(template: bytes, patch: Callable[[str], str], parse: Callable[[str], Any]
              ) -> Callable[[str | None], PartMap | None]:
    """A lookup of :class:`PartMap` by part name (``word/document.xml``), built on first use."""
    built: dict[str, PartMap | None] = {}  # this render's: the template is hashed once, on the first miss
    template_digest = functools.cache(lambda: digest(template))

    def build(part: str) -> PartMap | None:
        try:
            with zipfile.ZipFile(io.BytesIO(template)) as archive:
                return PartMap(archive.read(part), patch, parse)
        except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
            return None

    def lookup(part: str | None) -> PartMap | None:
        if part is None:
            return None
        if part not in built:
            built[part] = MAPS.get_by_digest(template_digest(), part, lambda: build(part))
        return built[part]

    return lookup


def _own_text(paragraph: etree._Element) -> str:
    """The paragraph's w:t text, leaving out paragraphs nested in it (text boxes)."""
    return "".join(t.text or "" for t in paragraph.iter(_T)
                   if next(t.iterancestors(_P), None) is paragraph)


def miss_reports(misses: Iterable[Miss], maps: Callable[[str | None], PartMap | None]) -> list[dict[str, Any]]:
    """One entry per missing variable and place: code, variable, part, paragraph, tag, messages."""
    found: list[dict[str, Any]] = []
    for miss in misses:
        part_map = maps(miss.part)
        where = part_map.locate(miss.line, miss.name) if part_map else {"paragraph": None, "tag": None}
        variable = part_map.path(miss.line, miss.name) if part_map else miss.name
        entry = {"code": "undefined-variable", "variable": variable, "part": miss.part or "", **where}
        if entry not in found:
            found.append(entry)
    for entry in found:
        entry["message"] = f"数据中没有模板使用的变量 {entry['variable']}（{place(entry, 'zh')}）"
        entry["message_en"] = (f"the data has no '{entry['variable']}', which the template uses "
                               f"({place(entry, 'en')})")
    return found


def error_location(exc: BaseException, part: str | None, maps: Callable[[str | None], PartMap | None],
                   fails: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """``{part, paragraph, tag}`` of the tag whose evaluation raised ``exc`` (Jinja's traceback)."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    part_map = maps(part)
    where = part_map.locate(line, fails=fails) if part_map and line else {"paragraph": None, "tag": None}
    return {"part": part or "", **where}


def place(where: dict[str, Any], language: str = "en") -> str:
    """``word/document.xml, paragraph 2, {{ x }}`` (``…，第 2 段，…`` in Chinese)."""
    bits = [where.get("part") or "?"]
    if where.get("paragraph"):
        bits.append(f"第 {where['paragraph']} 段" if language == "zh" else f"paragraph {where['paragraph']}")
    if where.get("tag"):
        bits.append(where["tag"])
    return ("，" if language == "zh" else ", ").join(bits)
