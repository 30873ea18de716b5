"""What a worker remembers per template (worker/template_cache.py) is keyed by the template's bytes,
bounded, and never reused for a changed template: the metadata rewrite and the paragraph maps of
warned renders give the same outcome from the cache as without it (issue #12)."""

from __future__ import annotations

import io

from docx import Document

from helpers import docx_with
from worker import doc_metadata, locate
from worker.doc_metadata import with_document_metadata
from worker.render import render_docx
from worker.template_cache import DigestCache


def titled(title: str, *paragraphs: str) -> bytes:
    """A template whose core properties carry ``title`` (and python-docx's author, to be cleared)."""
    document = Document(io.BytesIO(docx_with(*paragraphs)))
    document.core_properties.title = title
    document.core_properties.author = "python-docx"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def properties(docx: bytes):
    return Document(io.BytesIO(docx)).core_properties


def test_equal_bytes_hit_and_changed_bytes_miss():
    cache: DigestCache[str] = DigestCache(max_entries=4, max_bytes=1000, size=len)
    calls = []

    def compute(value: str):
        return lambda: calls.append(value) or value

    assert cache.get(b"template-a", "t", compute("A")) == "A"
    assert cache.get(bytes(bytearray(b"template-a")), "t", compute("again")) == "A"  # same bytes, new object
    assert cache.get(b"template-b", "t", compute("B")) == "B"  # other bytes: computed, not reused
    assert cache.get(b"template-a", "other", compute("A2")) == "A2"  # the qualifier is part of the key
    assert calls == ["A", "B", "A2"]


def test_bounded_by_entries_and_by_bytes_least_recently_used_first():
    cache: DigestCache[bytes] = DigestCache(max_entries=3, max_bytes=100, size=len)
    for n in range(5):
        cache.get(bytes([n]), None, lambda n=n: bytes(10) + bytes([n]))
    assert len(cache) == 3
    cache.get(bytes([2]), None, lambda: b"recomputed")  # still there: a hit, now the most recent
    cache.get(b"big", None, lambda: bytes(80))
    assert cache.bytes_held <= 100 and len(cache) == 2  # 80 + the most recent 11
    assert cache.get(bytes([2]), None, lambda: b"recomputed") == bytes(10) + bytes([2])
    assert cache.get(b"huge", None, lambda: bytes(500)) == bytes(500)  # over the budget: not kept
    assert cache.bytes_held <= 100 and cache.get(b"huge", None, lambda: b"again") == b"again"


def test_metadata_rewrite_from_the_cache_is_the_rewrite_and_a_changed_template_gets_its_own():
    doc_metadata.REWRITTEN.clear()
    first = titled("", "{{ who }}")
    once = with_document_metadata(first, title="问候函")
    assert with_document_metadata(bytes(bytearray(first)), title="问候函") == once
    assert (doc_metadata.REWRITTEN.misses, doc_metadata.REWRITTEN.hits) == (1, 1)  # rewritten once
    assert once == doc_metadata._rewrite(first, "问候函")  # noqa: SLF001 - the uncached result
    assert properties(once).title == "问候函" and properties(once).author == ""
    assert properties(with_document_metadata(first, title="回执")).title == "回执"  # another title, not reused

    changed = titled("年度报告", "{{ who }}")  # other bytes: its own title, not the cached one
    assert properties(with_document_metadata(changed, title="问候函")).title == "年度报告"
    assert len(doc_metadata.REWRITTEN) == 3


def test_metadata_cache_stays_within_its_byte_budget():
    doc_metadata.REWRITTEN.clear()
    for n in range(doc_metadata.CACHE_ENTRIES + 5):
        with_document_metadata(titled(f"t{n}", "x"))
    assert len(doc_metadata.REWRITTEN) == doc_metadata.CACHE_ENTRIES
    assert doc_metadata.REWRITTEN.bytes_held <= doc_metadata.CACHE_BYTES


def test_warned_renders_name_the_same_place_from_the_cached_map_and_a_changed_template_its_own():
    locate.MAPS.clear()
    template = docx_with("Dear {{ name }},", "Your {{ role }} starts on {{ date }}.")
    warnings: list[dict] = []
    render_docx(template, {"name": "张三"}, warnings=warnings)
    again: list[dict] = []
    render_docx(bytes(bytearray(template)), {"name": "张三"}, warnings=again)
    assert again == warnings
    assert [(w["variable"], w["paragraph"], w["tag"]) for w in warnings] == [
        ("role", 2, "{{ role }}"), ("date", 2, "{{ date }}")]
    assert (locate.MAPS.misses, locate.MAPS.hits) == (1, 1)  # document.xml mapped once, reused next render

    moved = docx_with("Dear {{ name }},", "Welcome.", "Your {{ role }} starts on {{ date }}.")
    changed: list[dict] = []
    render_docx(moved, {"name": "张三"}, warnings=changed)
    assert [(w["variable"], w["paragraph"]) for w in changed] == [("role", 3), ("date", 3)]


def test_a_part_maps_weight_is_the_memory_it_holds():
    """The cache of maps is bounded by their weights: a weight far below what a map holds would let
    the 64 MiB bound hold several times that (measured before: a third of it)."""
    import gc
    import tracemalloc

    part = docx_part(docx_with(*(f"第{i}段 {{{{ v{i % 7} }}}}" for i in range(20_000))))

    def no_refs(source: str):
        raise ValueError("references are not what this test weighs")

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = locate.PartMap(part, lambda xml: xml, no_refs)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.8 * retained <= held.weight <= 2 * retained, (held.weight, retained)


def docx_part(docx: bytes, name: str = "word/document.xml") -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return archive.read(name)
