"""Safety checks on a .docx: on every uploaded template, and again on every rendered document.

A .docx is a zip of XML parts, and every layer can be turned against the server that renders it:
the zip (bombs: huge declared or real sizes, millions of entries), the package structure (a main
part other than ``word/document.xml`` behind a decoy, XML hidden under a ``.bin`` name, targets
escaping the package), the XML (DOCTYPE/ENTITY declarations: XXE file reads, "billion laughs"),
the relationships (``TargetMode="External"``: LibreOffice would fetch ``file:///etc/passwd`` or
an attacker's URL as an image, frame or attached template), linked instead of embedded pictures,
the fields (INCLUDETEXT/INCLUDEPICTURE/DDE/LINK pull in files or run commands when fields
update), and active content (OLE, ActiveX, VBA macros). Each is refused with a 422 naming what
was found and where: :func:`check_docx` for templates (``TemplateRejected``),
:func:`check_rendered_docx` for what a render produced (``UnsafeOutput``), so anything data
manages to inject past the template checks is still caught before LibreOffice or a client sees it.

Order matters: cheap structural checks (is it a zip, entry count, declared sizes) run first and
stop early, so a bomb is refused before a byte of it is decompressed; decompression then runs in
bounded chunks against a byte budget in case the declared sizes lie; DOCTYPE is looked for in the
raw bytes *before* any XML parser sees the part. Parts are judged by what readers make of them
(core/docx_package.py walks the relationships and content types; core/docx_parts.py reads every
part that is XML by name, content type or bytes), never by their names alone.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Any

from lxml import etree

from core.docx_package import (
    CONTENT_TYPES_PART,
    MAIN_PART,
    PACKAGE_RELS_PART,
    ContentTypes,
    Relationship,
    bad_name_findings,
    finding,
    package_findings,
    parse_relationships,
    rels_part_of,
)
from core.docx_parts import (
    body_findings,
    content_type_findings,
    looks_like_xml,
    parse_part,
    relationship_findings,
)
from core.errors import TemplateRejected, UnsafeOutput

MB = 1024 * 1024


@dataclass(frozen=True)
class DocxLimits:
    """Caps on the zip container of an uploaded template.

    Word's own documents stay far below these: a 300-page report with images has a few hundred
    entries, tens of MB uncompressed and XML ratios around 10-40:1.
    """

    max_entries: int = 2000
    """Zip entries (files) the archive may hold."""
    max_total_size: int = 100 * MB
    """Bytes: sum of all entries' uncompressed sizes."""
    max_ratio: float = 100.0
    """Uncompressed/compressed size ratio one entry may have (zip-bomb signature)."""
    ratio_min_size: int = 1 * MB
    """Bytes: entries smaller than this are exempt from the ratio cap (tiny XML compresses well)."""
    max_findings: int = 100
    """Findings listed in one rejection; the rest are summarised so the 422 stays small."""


DEFAULT_LIMITS = DocxLimits()

_CHUNK = 64 * 1024  # bytes decompressed per read: bounds memory for media entries
_XML_SUFFIXES = (".xml", ".rels", ".vml", ".svg")
OUTPUT_LIMITS = DocxLimits(max_entries=100_000, max_total_size=16 * 1024 * MB, max_ratio=float("inf"))
"""Caps for a rendered document: this service wrote that zip and capped its size (WENSHU_MAX_OUTPUT)
already, and a 2 000-row table compresses far past 100:1; only its content is in question."""


class _Refused(Exception):
    """Stops reading an archive that is already known to be refused."""

    def __init__(self, findings: list[dict[str, Any]]) -> None:
        super().__init__(findings)
        self.findings = findings


def check_docx(data: bytes, limits: DocxLimits | None = None) -> None:
    """Refuse a .docx template that could attack the renderer; return quietly when it is safe.

    Args:
        data: the uploaded file's bytes.
        limits: caps on the zip container; :data:`DEFAULT_LIMITS` when None.

    Raises:
        TemplateRejected: with ``errors`` listing every finding as
            ``{"part", "message", "found"}`` (plus ``"paragraph"``, 1-based, in body XML).
    """
    limits = limits or DEFAULT_LIMITS
    findings = docx_findings(data, limits)
    if findings:
        raise _rejection(findings, limits)


def check_rendered_docx(data: bytes) -> None:
    """Refuse a rendered document carrying anything a template may not carry (defence in depth).

    The same checks as :func:`check_docx` run on what the render produced, before it is converted
    or handed out: whatever data slipped in (a field instruction assembled from values, markup
    through a filter) is caught here. External hyperlinks (``$link``) and embedded pictures
    (``$image``) are what renders legitimately add, and pass as they do in templates.

    Raises:
        UnsafeOutput: naming part, paragraph and what was found, in ``detail`` and ``errors``.
    """
    findings = docx_findings(data, OUTPUT_LIMITS, huge_tree=True)
    if findings:
        raise _output_rejection(findings, OUTPUT_LIMITS)


def docx_findings(data: bytes, limits: DocxLimits, *, huge_tree: bool = False) -> list[dict[str, Any]]:
    """Every finding on ``data``; container problems alone when the zip itself is suspicious.

    Args:
        huge_tree: lift libxml2's size limits (only for documents this service produced).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return [finding("", "not a .docx: the file is not a zip archive", "not-docx")]
    with archive:
        infos = archive.infolist()
        # Container problems stop here: nothing is decompressed from a suspicious archive.
        container = _container_findings(infos, limits)
        if container:
            return container
        try:
            parts = _read_parts(archive, infos, limits)
        except _Refused as refused:
            return refused.findings
    names = [i.filename for i in infos if not i.is_dir()]
    return _package_and_part_findings(names, parts, huge_tree)


def _package_and_part_findings(names: list[str], parts: dict[str, bytes], huge_tree: bool) -> list[dict[str, Any]]:
    """Walk the package (content types, relationships), then judge every XML part by what it is."""
    findings = bad_name_findings(names)
    roots: dict[str, etree._Element] = {}
    for name, raw in parts.items():
        if name == CONTENT_TYPES_PART or name.lower().endswith(".rels"):
            root, problems = parse_part(name, raw, huge=huge_tree)
            findings.extend(problems)
            if root is not None:
                roots[name] = root
    relationships = {name: parse_relationships(name, root) for name, root in roots.items()
                     if name.lower().endswith(".rels")}
    if CONTENT_TYPES_PART in roots and PACKAGE_RELS_PART in relationships:
        # Without both, the structure cannot be walked; their own findings already refuse the file.
        findings.extend(package_findings(names, ContentTypes.parse(roots[CONTENT_TYPES_PART]), relationships))
    rels_by_lower = {name.lower(): rels for name, rels in relationships.items()}
    raw_by_lower = {name.lower(): raw for name, raw in parts.items()}
    for name in names:
        findings.extend(_name_findings(name))
        if name in relationships:
            findings.extend(relationship_findings(name, relationships[name]))
        elif name == CONTENT_TYPES_PART:
            findings.extend(content_type_findings(name, roots[name]) if name in roots else [])
        elif name in parts and not name.lower().endswith(".rels"):
            own = rels_part_of(name).lower()
            verdict = _content_findings(name, parts[name], raw_by_lower.get(own, b""),
                                        rels_by_lower.get(own, []), huge_tree)
            if not name.lower().endswith(_XML_SUFFIXES):
                # Kept because its first bytes looked like XML: if it does not parse, no reader can
                # parse it either (an obfuscated font may start with "<"); its content counts if it does.
                verdict = [f for f in verdict if f["found"] != "bad-xml"]
            findings.extend(verdict)
    return findings


_VERDICTS: dict[tuple[str, bool, bytes, bytes], list[dict[str, Any]]] = {}
_VERDICTS_KEPT = 1024


def _content_findings(name: str, raw: bytes, rels_raw: bytes, relationships: list[Relationship],
                      huge_tree: bool) -> list[dict[str, Any]]:
    """Parse one document-like part and judge its content; verdicts are remembered by digest.

    A render leaves most of a template's parts (styles, theme, numbering...) byte-identical, and
    parsing them dominated the check of a rendered document; the verdict on the same bytes, with
    the same relationships, is the same, so it is computed once per process.
    """
    key = (name, huge_tree, _digest(raw), _digest(rels_raw))
    verdict = _VERDICTS.get(key)
    if verdict is None:
        root, verdict = parse_part(name, raw, huge=huge_tree)
        if root is not None:
            verdict = body_findings(name, root, {r.id: r for r in relationships})
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.clear()
        _VERDICTS[key] = verdict
    return [dict(f) for f in verdict]


def _digest(data: bytes) -> bytes:
    # SHA-256 over BLAKE2b: the same strength, and on CPUs with SHA instructions (most servers)
    # 1.5× faster; a rendered document's unchanged styles alone are ~800 kB to hash per job.
    return hashlib.sha256(data).digest()


def _rejection(findings: list[dict[str, Any]], limits: DocxLimits) -> TemplateRejected:
    """One TemplateRejected naming every distinct finding (capped at ``max_findings``)."""
    kinds = sorted({f["found"] for f in findings})
    noun = "problem" if len(findings) == 1 else "problems"
    return TemplateRejected(
        f"The .docx was rejected by the safety checks: {len(findings)} {noun} found ({', '.join(kinds)}).",
        errors=_capped(findings, limits),
    )


def _output_rejection(findings: list[dict[str, Any]], limits: DocxLimits) -> UnsafeOutput:
    """One UnsafeOutput whose detail says what the rendered document contained, and where."""
    first = findings[0]
    where = f"part {first['part'] or '(the archive)'}"
    if "paragraph" in first:
        where += f" paragraph {first['paragraph']}"
    more = f" (and {len(findings) - 1} more, listed in errors)" if len(findings) > 1 else ""
    return UnsafeOutput(f"The rendered document contained what the safety checks refuse, in {where}: "
                        f"{first['message']}{more}. It was not converted or stored; the data must not "
                        "produce fields, objects or links to outside content.", errors=_capped(findings, limits))


def _capped(findings: list[dict[str, Any]], limits: DocxLimits) -> list[dict[str, Any]]:
    """At most ``max_findings`` findings, plus a line saying how many were left out."""
    listed = findings[: limits.max_findings]
    if len(findings) > len(listed):
        listed.append(finding("", f"... and {len(findings) - len(listed)} more findings", "truncated"))
    return listed


def _container_findings(infos: list[zipfile.ZipInfo], limits: DocxLimits) -> list[dict[str, Any]]:
    """Checks on the zip directory alone: shape of a .docx, entry count, declared sizes."""
    findings = []
    names = {i.filename for i in infos}
    for required in (CONTENT_TYPES_PART, PACKAGE_RELS_PART, MAIN_PART):
        if required not in names:
            findings.append(finding(required, f"not a .docx: the archive has no {required}", "not-docx"))
    if len(infos) > limits.max_entries:
        findings.append(finding("", f"{len(infos)} zip entries, more than the limit of "
                                     f"{limits.max_entries}", "too-many-entries"))
        return findings  # don't walk a huge directory any further
    if len({n.lower() for n in names}) != len(infos):
        findings.append(finding("", "duplicate zip entry names, ignoring case (readers disagree on which wins)",
                                 "duplicate-entry"))
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_size:
        findings.append(finding("", f"uncompressed size {total} bytes exceeds the limit of "
                                     f"{limits.max_total_size} bytes", "too-large"))
    for info in infos:
        if info.flag_bits & 0x1:
            findings.append(finding(info.filename, "encrypted zip entry", "encrypted"))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            findings.append(finding(info.filename, f"unsupported zip compression method "
                                                    f"{info.compress_type}", "bad-compression"))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_size and ratio > limits.max_ratio:
            findings.append(finding(info.filename, f"compression ratio {ratio:.0f}:1 exceeds "
                                                    f"{limits.max_ratio:.0f}:1 (zip bomb)", "zip-bomb"))
    return findings


def _read_parts(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                limits: DocxLimits) -> dict[str, bytes]:
    """Decompress every entry in bounded chunks; keep the bytes of every part that is XML.

    A part is kept when its name says XML or its first bytes do, whatever it is called: readers
    follow relationships and content types, not extensions. The declared sizes were checked
    already, but they are attacker-written: count the real bytes too and stop the moment an
    entry outgrows its declared size or the total budget.
    """
    budget = limits.max_total_size
    parts: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        chunks: list[bytes] = []
        keep = info.filename.lower().endswith(_XML_SUFFIXES)
        size = 0
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    budget -= len(chunk)
                    if size > info.file_size or budget < 0:
                        raise _Refused([finding(info.filename, "entry decompresses past its declared size or "
                                                               "the size limit (zip bomb)", "zip-bomb")])
                    if size == len(chunk) and not keep:  # the first chunk says whether it is XML
                        keep = looks_like_xml(chunk)
                    if keep:
                        chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise _Refused([finding(info.filename, f"corrupt zip entry: {exc}", "corrupt-zip")]) from exc
        if keep:
            parts[info.filename] = b"".join(chunks)
    return parts


def _name_findings(name: str) -> list[dict[str, Any]]:
    """Active content recognisable from the entry name alone."""
    lower = name.lower()
    base = lower.rsplit("/", 1)[-1]
    if base in ("vbaproject.bin", "vbadata.xml"):
        return [finding(name, "VBA macro project", "macro")]
    if "/activex/" in f"/{lower}":
        return [finding(name, "ActiveX control part", "activex")]
    if "/embeddings/" in f"/{lower}" and (base.endswith(".bin") or base.startswith("oleobject")):
        return [finding(name, "embedded OLE object", "ole-object")]
    return []


