"""Safety checks for uploaded .docx templates, run before anything else opens the file.

A .docx is a zip of XML parts, and every layer can be turned against the server that renders it:
the zip (bombs: huge declared or real sizes, millions of entries), the XML (DOCTYPE/ENTITY
declarations: XXE file reads, "billion laughs"), the relationships (``TargetMode="External"``:
LibreOffice would fetch ``file:///etc/passwd`` or an attacker's URL as an image, frame or attached
template), the fields (INCLUDETEXT/INCLUDEPICTURE/DDE/LINK pull in files or run commands when
fields update), and active content (OLE, ActiveX, VBA macros). DESIGN.md §5 asks for all of them
to be refused with a clear 422 that names what was found, so :func:`check_docx` collects every
finding and raises one :class:`~core.errors.TemplateRejected`.

Order matters: cheap structural checks (is it a zip, entry count, declared sizes) run first and
stop early, so a bomb is refused before a byte of it is decompressed; decompression then runs in
bounded chunks against a byte budget in case the declared sizes lie; DOCTYPE is looked for in the
raw bytes *before* any XML parser sees the part.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from lxml import etree

from core.errors import TemplateRejected

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
_XML_SUFFIXES = (".xml", ".rels", ".vml")

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W_P = f"{{{W}}}p"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

# Relationship types refused even when internal, by the last segment of their Type URI.
_REL_KINDS = {
    "attachedTemplate": ("attached-template", "attached template"),
    "aFChunk": ("alt-chunk", "altChunk (imported foreign content)"),
    "oleObject": ("ole-object", "OLE object"),
    "control": ("activex", "ActiveX control"),
    "activeXControlBinary": ("activex", "ActiveX control"),
    "vbaProject": ("macro", "VBA macro project"),
    "subDocument": ("sub-document", "sub-document"),
}
# External links a reader clicks; Word/LibreOffice never fetch them while rendering.
_HARMLESS_EXTERNAL = ("hyperlink",)

# Field keywords that read files/URLs or talk to other programs when fields update.
_FIELD_KEYWORDS = {"INCLUDETEXT", "INCLUDE", "INCLUDEPICTURE", "DDE", "DDEAUTO", "LINK", "IMPORT"}

# Elements that embed active content, with the finding they produce.
_ELEMENT_KINDS = {
    f"{{{W}}}altChunk": ("alt-chunk", "w:altChunk (imported foreign content)"),
    f"{{{W}}}object": ("ole-object", "embedded object (w:object)"),
    "{urn:schemas-microsoft-com:office:office}OLEObject": ("ole-object", "OLE object (o:OLEObject)"),
    f"{{{W}}}control": ("activex", "ActiveX control (w:control)"),
    f"{{{W}}}attachedTemplate": ("attached-template", "attached template (w:attachedTemplate)"),
    f"{{{W}}}subDoc": ("sub-document", "sub-document (w:subDoc)"),
}
_CONTENT_TYPE_MARKERS = {
    "macroenabled": ("macro", "macro-enabled content type"),
    "vbaproject": ("macro", "VBA macro project content type"),
    "activex": ("activex", "ActiveX content type"),
    "oleobject": ("ole-object", "OLE object content type"),
}

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def check_docx(data: bytes, limits: DocxLimits | None = None) -> None:
    """Refuse a .docx that could attack the renderer; return quietly when it is safe.

    Args:
        data: the uploaded file's bytes.
        limits: caps on the zip container; :data:`DEFAULT_LIMITS` when None.

    Raises:
        TemplateRejected: with ``errors`` listing every finding as
            ``{"part", "message", "found"}`` (plus ``"paragraph"``, 1-based, in body XML).
    """
    limits = limits or DEFAULT_LIMITS
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        not_zip = [_finding("", "not a .docx: the file is not a zip archive", "not-docx")]
        raise _rejection(not_zip, limits) from exc
    with archive:
        infos = archive.infolist()
        # Container problems stop here: nothing is decompressed from a suspicious archive.
        _reject(_container_findings(infos, limits), limits)
        parts = _read_parts(archive, infos, limits)
    findings: list[dict[str, Any]] = []
    for name in (i.filename for i in infos):
        findings.extend(_name_findings(name))
        if name in parts:
            findings.extend(_xml_findings(name, parts[name]))
    _reject(findings, limits)


def _finding(part: str, message: str, found: str, paragraph: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"part": part, "message": message, "found": found}
    if paragraph is not None:
        item["paragraph"] = paragraph
    return item


def _reject(findings: list[dict[str, Any]], limits: DocxLimits) -> None:
    """Raise one TemplateRejected for the findings, if there are any."""
    if findings:
        raise _rejection(findings, limits)


def _rejection(findings: list[dict[str, Any]], limits: DocxLimits) -> TemplateRejected:
    """One TemplateRejected naming every distinct finding (capped at ``max_findings``)."""
    kinds = sorted({f["found"] for f in findings})
    listed = findings[: limits.max_findings]
    if len(findings) > len(listed):
        listed.append(_finding("", f"... and {len(findings) - len(listed)} more findings", "truncated"))
    noun = "problem" if len(findings) == 1 else "problems"
    return TemplateRejected(
        f"The .docx was rejected by the safety checks: {len(findings)} {noun} found ({', '.join(kinds)}).",
        errors=listed,
    )


def _container_findings(infos: list[zipfile.ZipInfo], limits: DocxLimits) -> list[dict[str, Any]]:
    """Checks on the zip directory alone: shape of a .docx, entry count, declared sizes."""
    findings = []
    names = {i.filename for i in infos}
    for required in ("[Content_Types].xml", "word/document.xml"):
        if required not in names:
            findings.append(_finding(required, f"not a .docx: the archive has no {required}", "not-docx"))
    if len(infos) > limits.max_entries:
        findings.append(_finding("", f"{len(infos)} zip entries, more than the limit of "
                                     f"{limits.max_entries}", "too-many-entries"))
        return findings  # don't walk a huge directory any further
    if len(names) != len(infos):
        findings.append(_finding("", "duplicate zip entry names (readers disagree on which wins)",
                                 "duplicate-entry"))
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_size:
        findings.append(_finding("", f"uncompressed size {total} bytes exceeds the limit of "
                                     f"{limits.max_total_size} bytes", "too-large"))
    for info in infos:
        if info.flag_bits & 0x1:
            findings.append(_finding(info.filename, "encrypted zip entry", "encrypted"))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            findings.append(_finding(info.filename, f"unsupported zip compression method "
                                                    f"{info.compress_type}", "bad-compression"))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_size and ratio > limits.max_ratio:
            findings.append(_finding(info.filename, f"compression ratio {ratio:.0f}:1 exceeds "
                                                    f"{limits.max_ratio:.0f}:1 (zip bomb)", "zip-bomb"))
    return findings


def _read_parts(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                limits: DocxLimits) -> dict[str, bytes]:
    """Decompress every entry in bounded chunks; keep the XML parts' bytes.

    The declared sizes were checked already, but they are attacker-written: count the real
    bytes too and stop the moment an entry outgrows its declared size or the total budget.
    """
    budget = limits.max_total_size
    parts: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        keep = info.filename.lower().endswith(_XML_SUFFIXES)
        chunks: list[bytes] = []
        size = 0
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    budget -= len(chunk)
                    if size > info.file_size or budget < 0:
                        _reject([_finding(info.filename, "entry decompresses past its declared size or "
                                                         "the size limit (zip bomb)", "zip-bomb")], limits)
                    if keep:
                        chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            corrupt = [_finding(info.filename, f"corrupt zip entry: {exc}", "corrupt-zip")]
            raise _rejection(corrupt, limits) from exc
        if keep:
            parts[info.filename] = b"".join(chunks)
    return parts


def _name_findings(name: str) -> list[dict[str, Any]]:
    """Active content recognisable from the entry name alone."""
    lower = name.lower()
    base = lower.rsplit("/", 1)[-1]
    if base in ("vbaproject.bin", "vbadata.xml"):
        return [_finding(name, "VBA macro project", "macro")]
    if "/activex/" in f"/{lower}":
        return [_finding(name, "ActiveX control part", "activex")]
    if "/embeddings/" in f"/{lower}" and (base.endswith(".bin") or base.startswith("oleobject")):
        return [_finding(name, "embedded OLE object", "ole-object")]
    return []


def _xml_findings(name: str, raw: bytes) -> list[dict[str, Any]]:
    """DOCTYPE check on the raw bytes, then parse safely and inspect by part kind."""
    text = _decode_prolog(raw)
    if text is None:
        return [_finding(name, "XML part in an unsupported character encoding", "bad-xml")]
    match = _DECLARATION.search(text)
    if match:
        word = match.group(1).decode().upper()
        return [_finding(name, f"XML part declares a {word} (XXE / entity expansion)", "doctype")]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        return [_finding(name, f"XML part is not well-formed: {exc}", "bad-xml")]
    if root is None:
        return [_finding(name, "XML part is empty", "bad-xml")]
    if name.endswith(".rels"):
        return _relationship_findings(name, root)
    if name == "[Content_Types].xml":
        return _content_type_findings(name, root)
    return _body_findings(name, root)


def _decode_prolog(raw: bytes) -> bytes | None:
    """The part as ASCII-compatible bytes, so a UTF-16 part cannot hide its DOCTYPE."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and b"\x00" in raw[:4]):
        encoding = "utf-16"
        if raw[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00") or raw[:4].count(b"\x00") == 3:
            encoding = "utf-32"
    else:
        declared = _ENCODING.match(raw.lstrip(b"\xef\xbb\xbf")[:200])
        encoding = declared.group(1).decode() if declared else "utf-8"
        if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "usascii", "ascii"):
            return raw  # the common case: search the bytes as they are
    try:
        return raw.decode(encoding, errors="replace").encode("utf-8")
    except LookupError:
        return None


def _relationship_findings(name: str, root: etree._Element) -> list[dict[str, Any]]:
    findings = []
    for rel in root.iter(f"{{{_REL_NS}}}Relationship"):
        rel_type = (rel.get("Type") or "").rsplit("/", 1)[-1]
        target = rel.get("Target") or ""
        external = (rel.get("TargetMode") or "").lower() == "external"
        if rel_type in _REL_KINDS:
            found, label = _REL_KINDS[rel_type]
            where = " (TargetMode=External)" if external else ""
            findings.append(_finding(name, f"{label} relationship{where} to {target}", found))
        elif external and rel_type not in _HARMLESS_EXTERNAL:
            findings.append(_finding(name, f"external relationship (TargetMode=External) to {target}",
                                     "external-relationship"))
    return findings


def _content_type_findings(name: str, root: etree._Element) -> list[dict[str, Any]]:
    findings = []
    for entry in root:
        content_type = (entry.get("ContentType") or "").lower()
        what = entry.get("PartName") or f"*.{entry.get('Extension')}"
        for marker, (found, label) in _CONTENT_TYPE_MARKERS.items():
            if marker in content_type:
                findings.append(_finding(name, f"{label} for {what}: {entry.get('ContentType')}", found))
                break
    return findings


def _body_findings(name: str, root: etree._Element) -> list[dict[str, Any]]:
    """Active elements and dangerous fields in a document/header/footer/... part."""
    numbers = {p: i for i, p in enumerate(root.iter(_W_P), 1)}

    def paragraph_of(element: etree._Element) -> int | None:
        return next((numbers.get(p) for p in element.iterancestors(_W_P)), None)

    findings = []
    # Open complex fields (begin ... instrText ... separate ... end, nested, possibly spanning
    # runs and paragraphs): [instruction pieces or None once judged, paragraph of the begin].
    fields: list[list[Any]] = []
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions
        if tag in _ELEMENT_KINDS:
            found, label = _ELEMENT_KINDS[tag]
            findings.append(_finding(name, label, found, paragraph_of(el)))
        elif tag == f"{{{W}}}fldSimple":
            findings.extend(_field_finding(name, el.get(f"{{{W}}}instr") or "", paragraph_of(el)))
        elif tag == f"{{{W}}}fldChar":
            kind = el.get(f"{{{W}}}fldCharType")
            if kind == "begin":
                fields.append([[], paragraph_of(el)])
            elif kind in ("separate", "end") and fields:
                # The instruction is complete at "separate" (or at "end" when there is none).
                if fields[-1][0] is not None:
                    findings.extend(_field_finding(name, "".join(fields[-1][0]), fields[-1][1]))
                    fields[-1][0] = None
                if kind == "end":
                    fields.pop()
        elif tag == f"{{{W}}}instrText" and fields and fields[-1][0] is not None:
            fields[-1][0].append(el.text or "")
    return findings


def _field_finding(name: str, instruction: str, paragraph: int | None) -> list[dict[str, Any]]:
    words = instruction.split()
    keyword = words[0].upper() if words else ""
    if keyword in _FIELD_KEYWORDS:
        shown = " ".join(words)[:120]
        return [_finding(name, f"{keyword} field ({shown}) reads external content", "field", paragraph)]
    return []
