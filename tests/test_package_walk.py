"""The checks read a .docx the way Word, python-docx and LibreOffice read it: by relationships.

Every hostile package here is written byte by byte (zipfile + raw XML), starting from one small
valid package that passes; each test changes one thing an attacker would. Readers follow
``_rels/.rels`` to the main part and take each part's kind from ``[Content_Types].xml``, so a
check that opens ``word/document.xml`` by name can be shown a decoy while the real main part
carries the attack.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from core.docx_safety import check_docx
from core.errors import TemplateRejected

HERE = Path(__file__).parent
WORD_SAVED = sorted((HERE.parent / "templates").glob("*/template.docx")) + sorted(
    (HERE / "fixtures" / "peer-corpus" / "templates").glob("*.docx"))

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
HEADER_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"
NAMESPACES = (f'xmlns:w="{W}" xmlns:r="{R}" xmlns:v="urn:schemas-microsoft-com:vml" '
              'xmlns:o="urn:schemas-microsoft-com:office:office" '
              'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
              'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
              'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"')

INCLUDETEXT = ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
               '<w:r><w:instrText xml:space="preserve"> INCLUDETEXT "/etc/passwd" </w:instrText></w:r>'
               '<w:r><w:fldChar w:fldCharType="end"/></w:r>')
OLE = ('<w:r><w:object><o:OLEObject ProgID="Package" ShapeID="_x0000_i1025" DrawAspect="Content"/>'
       '</w:object></w:r>')


def document(*paragraphs: str, namespace: str = W) -> bytes:
    """A main document part whose body holds one ``<w:p>`` per XML snippet."""
    body = "".join(f"<w:p>{p}</w:p>" for p in paragraphs)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document {NAMESPACES.replace(W, namespace)}><w:body>{body}</w:body></w:document>').encode()


def text(words: str) -> str:
    return f"<w:r><w:t>{words}</w:t></w:r>"


def relationships(*rels: tuple[str, str, str] | tuple[str, str, str, str]) -> bytes:
    """A .rels part from (Id, type, target[, TargetMode]) tuples; a bare type is an officeDocument one."""
    items = "".join(
        f'<Relationship Id="{r[0]}" Type="{REL_TYPE}{r[1]}" Target="{r[2]}"'
        + (f' TargetMode="{r[3]}"' if len(r) > 3 else "") + "/>" for r in rels)
    return (f'<?xml version="1.0" encoding="UTF-8"?><Relationships '
            f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{items}</Relationships>').encode()


def content_types(overrides: dict[str, str] | None = None, defaults: dict[str, str] | None = None) -> bytes:
    defaults = {"rels": "application/vnd.openxmlformats-package.relationships+xml", "xml": "application/xml",
                "png": "image/png", **(defaults or {})}
    overrides = {"/word/document.xml": MAIN_TYPE, **(overrides or {})}
    items = "".join(f'<Default Extension="{e}" ContentType="{t}"/>' for e, t in defaults.items())
    items += "".join(f'<Override PartName="{n}" ContentType="{t}"/>' for n, t in overrides.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><Types '
            f'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">{items}</Types>').encode()


def package_of(parts: dict[str, bytes | None] | None = None) -> bytes:
    """Zip the small valid package, with ``parts`` replacing, adding or (None) dropping members."""
    members: dict[str, bytes | None] = {
        "[Content_Types].xml": content_types(),
        "_rels/.rels": relationships(("rId1", "officeDocument", "word/document.xml")),
        "word/document.xml": document(text("Hello")),
        "word/_rels/document.xml.rels": relationships(),
    }
    members.update(parts or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if data is not None:
                archive.writestr(name, data)
    return out.getvalue()


def refusal(data: bytes) -> list[dict]:
    with pytest.raises(TemplateRejected) as caught:
        check_docx(data)
    assert caught.value.status == 422
    return caught.value.errors


def found(data: bytes) -> set[tuple[str, str]]:
    """(part, found) of every finding."""
    return {(f["part"], f["found"]) for f in refusal(data)}


def test_the_small_valid_package_is_accepted():
    check_docx(package_of())


@pytest.mark.parametrize("path", WORD_SAVED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_word_saved_templates_are_accepted(path):
    check_docx(path.read_bytes())


def test_every_bundled_and_peer_template_is_walked():
    assert len(WORD_SAVED) >= 3 + 19


def test_main_part_renamed_behind_a_decoy_is_refused_and_its_content_still_checked():
    hostile = package_of({
        "[Content_Types].xml": content_types({"/word/document.xml": "application/xml",
                                              "/word/document.bin": MAIN_TYPE}),
        "_rels/.rels": relationships(("rId1", "officeDocument", "word/document.bin")),
        "word/document.xml": document(text("Nothing to see here")),
        "word/document.bin": document(text("Quarterly report"), INCLUDETEXT + OLE),
    })
    findings = refusal(hostile)
    kinds = {(f["part"], f["found"]) for f in findings}
    assert ("_rels/.rels", "main-part") in kinds
    assert ("word/document.bin", "content-type-mismatch") in kinds
    assert ("word/document.bin", "main-part") in kinds
    located = {(f["part"], f["found"], f.get("paragraph")) for f in findings}
    assert ("word/document.bin", "field", 2) in located
    assert ("word/document.bin", "ole-object", 2) in located
    main = next(f for f in findings if f["part"] == "_rels/.rels")
    assert "word/document.bin" in main["message"]


def test_main_relationship_to_another_xml_part_is_refused():
    hostile = package_of({
        "_rels/.rels": relationships(("rId1", "officeDocument", "word/real.xml")),
        "word/real.xml": document(text("the real one")),
        "[Content_Types].xml": content_types({"/word/real.xml": MAIN_TYPE}),
    })
    assert {("_rels/.rels", "main-part"), ("word/real.xml", "main-part")} <= found(hostile)


def test_package_without_a_main_relationship_is_not_a_docx():
    hostile = package_of({"_rels/.rels": relationships(("rId1", "extended-properties", "docProps/app.xml")),
                          "docProps/app.xml": b"<Properties/>"})
    assert found(hostile) == {("_rels/.rels", "not-docx")}


def test_xml_content_type_on_a_bin_name_is_refused():
    hostile = package_of({"[Content_Types].xml": content_types({"/word/extra.bin": "application/xml"}),
                          "word/extra.bin": b"<x/>"})
    assert found(hostile) == {("word/extra.bin", "content-type-mismatch")}


def test_header_relationship_to_a_picture_named_part_is_refused():
    hostile = package_of({
        "word/_rels/document.xml.rels": relationships(("rId7", "header", "media/header.png")),
        "word/media/header.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
    })
    ((part, kind),) = found(hostile)
    assert (part, kind) == ("word/media/header.png", "content-type-mismatch")


def test_xml_under_a_binary_name_is_read_and_checked():
    hidden = document(text("x"), INCLUDETEXT)
    hostile = package_of({"word/media/notes.dat": hidden})
    assert {(f["part"], f["found"], f.get("paragraph")) for f in refusal(hostile)} == {
        ("word/media/notes.dat", "field", 2)}


def test_binary_part_that_merely_starts_like_xml_is_accepted():
    font = b"<\x8f\x13\x00\x01" + bytes(range(256)) * 4  # an obfuscated font may begin with "<"
    check_docx(package_of({"[Content_Types].xml": content_types(
        defaults={"odttf": "application/vnd.openxmlformats-officedocument.obfuscatedFont"}),
        "word/fonts/font1.odttf": font}))


def test_utf16_xml_under_a_binary_name_cannot_hide_a_doctype():
    xxe = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           "<r>&x;</r>").encode("utf-16-le")  # no byte-order mark either
    assert found(package_of({"word/media/blob.bin": xxe})) == {("word/media/blob.bin", "doctype")}


@pytest.mark.parametrize("target", ["../../etc/passwd", "../../../secret.xml", "..%2F..%2Fsecret.xml",
                                    "..\\..\\secret.xml", "/../secret.xml"])
def test_relationship_escaping_the_package_root_is_refused(target):
    hostile = package_of({"word/_rels/document.xml.rels": relationships(("rId9", "image", target))})
    (finding,) = refusal(hostile)
    assert (finding["part"], finding["found"]) == ("word/_rels/document.xml.rels", "relationship-escape")
    assert target in finding["message"]


def test_relationship_to_a_missing_part_is_refused():
    hostile = package_of({"word/_rels/document.xml.rels": relationships(("rId9", "styles", "styles.xml"))})
    (finding,) = refusal(hostile)
    assert (finding["part"], finding["found"]) == ("word/_rels/document.xml.rels", "missing-part")
    assert "styles.xml" in finding["message"]


def test_relationship_up_one_level_inside_the_package_is_accepted():
    check_docx(package_of({
        "word/_rels/document.xml.rels": relationships(("rId1", "customXml", "../customXml/item1.xml")),
        "customXml/item1.xml": b"<b:Sources xmlns:b='urn:x'/>",
    }))


BLIP_PICTURE = ('<w:r><w:drawing><wp:inline><wp:extent cx="1" cy="1"/><wp:docPr id="1" name="p"/>'
                '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
                '<pic:pic><pic:blipFill><a:blip {reference}/></pic:blipFill></pic:pic>'
                "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r>")
EXTERNAL_HYPERLINK = ("rId9", "hyperlink", "file:///etc/passwd", "External")


@pytest.mark.parametrize("reference", ['r:link="rId9"', 'r:embed="rId9"'])
def test_picture_sourced_from_a_hyperlink_relationship_is_refused_naming_the_paragraph(reference):
    hostile = package_of({
        "word/document.xml": document(text("before"), BLIP_PICTURE.format(reference=reference)),
        "word/_rels/document.xml.rels": relationships(EXTERNAL_HYPERLINK),
    })
    (finding,) = refusal(hostile)
    assert (finding["part"], finding["paragraph"]) == ("word/document.xml", 2)
    assert finding["found"] in ("linked-image", "external-reference")
    assert "file:///etc/passwd" in finding["message"]


def test_hyperlink_to_the_same_relationship_is_accepted():
    check_docx(package_of({
        "word/document.xml": document(f'<w:hyperlink r:id="rId9">{text("a link")}</w:hyperlink>'),
        "word/_rels/document.xml.rels": relationships(("rId9", "hyperlink", "https://example.org/", "External")),
    }))


@pytest.mark.parametrize("element, attributes", [
    ("imagedata", 'r:href="rId9"'),
    ("imagedata", 'o:href="file:///etc/passwd"'),
    ("imagedata", 'src="file:///etc/passwd"'),
    ("fill", 'r:href="rId9"'),
    ("stroke", 'o:href="http://attacker.example/x.png"'),
])
def test_vml_picture_by_link_is_refused_naming_part_and_paragraph(element, attributes):
    shape = f'<w:r><w:pict><v:shape id="s1"><v:{element} {attributes}/></v:shape></w:pict></w:r>'
    hostile = package_of({
        "word/document.xml": document(text("one"), text("two"), shape),
        "word/_rels/document.xml.rels": relationships(EXTERNAL_HYPERLINK),
    })
    (finding,) = refusal(hostile)
    assert (finding["part"], finding["found"], finding["paragraph"]) == ("word/document.xml", "linked-image", 3)
    assert f"v:{element}" in finding["message"]


def test_embedded_vml_picture_is_accepted():
    shape = '<w:r><w:pict><v:shape id="s1"><v:imagedata r:id="rId3" o:title=""/></v:shape></w:pict></w:r>'
    check_docx(package_of({
        "word/document.xml": document(shape),
        "word/_rels/document.xml.rels": relationships(("rId3", "image", "media/image1.png")),
        "word/media/image1.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
    }))


def test_strict_namespace_cannot_hide_a_field():
    strict = document(text("x"), INCLUDETEXT, namespace=W_STRICT)
    assert {(f["part"], f["found"], f.get("paragraph")) for f in refusal(package_of({"word/document.xml": strict}))} \
        == {("word/document.xml", "field", 2)}


def test_header_reached_by_relationship_is_checked():
    hostile = package_of({
        "[Content_Types].xml": content_types({"/word/header1.xml": HEADER_TYPE}),
        "word/_rels/document.xml.rels": relationships(("rId5", "header", "header1.xml")),
        "word/header1.xml": f'<w:hdr {NAMESPACES}><w:p>{INCLUDETEXT}</w:p></w:hdr>'.encode(),
    })
    assert found(hostile) == {("word/header1.xml", "field")}


def test_entry_names_differing_only_in_case_are_refused():
    hostile = package_of({"Word/Document.xml": document(INCLUDETEXT)})
    assert ("", "duplicate-entry") in found(hostile)


@pytest.mark.parametrize("name", ["word/../word/evil.xml", "word//evil.xml", "word\\evil.xml"])
def test_entry_names_that_are_not_plain_part_names_are_refused(name):
    assert (name, "bad-part-name") in found(package_of({name: b"<x/>"}))
