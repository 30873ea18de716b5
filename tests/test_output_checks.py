"""The rendered document passes the same safety checks as the template, before anyone sees it.

The template checks judge a .docx with its tags still in it. A tag whose value becomes part of a
field instruction (``<w:instrText>{{ instruction }}</w:instrText>``) is harmless text there and an
INCLUDETEXT field once rendered; markup smuggled through a filter would be the same. So the
worker checks what the render produced, and a finding fails the job (``unsafe-output``, 422)
naming part and paragraph, before LibreOffice converts it or a client can fetch it. The secret
file such a field would read is a canary: it must never show up in anything the service returns.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from core.docx_safety import DEFAULT_LIMITS, check_docx, check_rendered_docx, docx_findings
from core.errors import UnsafeOutput
from helpers import pdf_text
from worker.render import render_docx

HERE = Path(__file__).parent
BUNDLED = sorted((HERE.parent / "templates").glob("*/template.docx"))
CORPUS = HERE / "fixtures" / "peer-corpus"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))["cases"]
RUN = f"<w:r {nsdecls('w')}>{{}}</w:r>"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")


def saved(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def field_template() -> bytes:
    """A template whose second paragraph holds a field with its instruction taken from the data."""
    document = Document()
    document.add_paragraph("Before the field")
    paragraph = document.add_paragraph("Field: ")
    for xml in ('<w:fldChar w:fldCharType="begin"/>',
                '<w:instrText xml:space="preserve"> {{ instruction }} </w:instrText>',
                '<w:fldChar w:fldCharType="separate"/>', "<w:t>1</w:t>", '<w:fldChar w:fldCharType="end"/>'):
        paragraph._p.append(parse_xml(RUN.format(xml)))
    document.add_paragraph("After the field")
    return saved(document)


@pytest.fixture()
def canary(tmp_path) -> tuple[Path, str]:
    """A secret file in tmp: (path, secret). No output may ever contain the secret."""
    secret = f"wenshu-canary-{secrets.token_hex(8)}"
    path = tmp_path / "secret.txt"
    path.write_text(secret, encoding="utf-8")
    return path, secret


def include(path: Path) -> str:
    return f'INCLUDETEXT "{path}"'


def refusal_of(rendered: bytes) -> UnsafeOutput:
    with pytest.raises(UnsafeOutput) as caught:
        check_rendered_docx(rendered)
    assert caught.value.status == 422
    assert caught.value.to_problem()["type"].endswith("/unsafe-output")
    return caught.value


# --- unit: the check on a rendered document -----------------------------------------------------


def test_field_template_passes_the_template_checks():
    check_docx(field_template())  # the tag is only text before rendering: the input checks cannot see it


def test_field_instruction_assembled_from_data_is_refused_naming_part_and_paragraph(canary):
    rendered = render_docx(field_template(), {"instruction": include(canary[0])})
    error = refusal_of(rendered)
    (finding,) = error.errors
    assert (finding["part"], finding["paragraph"], finding["found"]) == ("word/document.xml", 2, "field")
    assert "INCLUDETEXT" in finding["message"]
    assert "the rendered document contained" in error.detail.lower()
    assert "word/document.xml paragraph 2" in error.detail


def test_harmless_field_instruction_from_data_passes():
    check_rendered_docx(render_docx(field_template(), {"instruction": "PAGE"}))


def _inject(rendered: bytes, snippet: str, rels: str = "") -> bytes:
    """The rendered document with ``snippet`` as a new last paragraph and ``rels`` added to its rels."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(rendered)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:sectPr", f"<w:p>{snippet}</w:p><w:sectPr".encode(), 1)
            elif info.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", f"{rels}</Relationships>".encode())
            dst.writestr(info, data)
    return out.getvalue()


REL = '<Relationship Id="rIdX" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{}" ' \
      'Target="{}"{}/>'
INJECTIONS = {
    "alt-chunk": ('<w:altChunk r:id="rIdX"/>', REL.format("aFChunk", "file:///etc/passwd", ' TargetMode="External"')),
    "ole-object": ('<w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
                   'ProgID="Package"/></w:object></w:r>', ""),
    "field": ('<w:fldSimple w:instr="DDEAUTO cmd /c calc"/>', ""),
    "linked-image": ('<w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:imagedata r:href="rIdX"/>'
                     "</v:shape></w:pict></w:r>", REL.format("hyperlink", "file:///etc/passwd",
                                                              ' TargetMode="External"')),
    "external-relationship": ("", REL.format("image", "http://attacker.example/x.png", ' TargetMode="External"')),
}


@pytest.mark.parametrize("kind", INJECTIONS)
def test_content_injected_into_a_rendered_document_is_refused(kind):
    rendered = render_docx(BUNDLED[0].read_bytes(), json.loads((BUNDLED[0].parent / "sample.json").read_text()))
    check_rendered_docx(rendered)  # the control: the render itself is clean
    snippet, rels = INJECTIONS[kind]
    error = refusal_of(_inject(rendered, snippet, rels))
    assert kind in {f["found"] for f in error.errors}
    assert "word/" in error.detail


def test_links_and_pictures_a_render_adds_pass():
    document = Document()
    document.add_paragraph("{{ link }}")
    document.add_paragraph("{{ rich }}")
    document.add_paragraph("{{ picture }}")
    data = {"link": {"$link": {"url": "https://example.org/report", "text": "the report"}},
            "rich": {"$rich": [{"text": "write to us", "url": "mailto:office@example.org"}]},
            "picture": {"$image": {"data": base64.b64encode(PNG).decode(), "width_mm": 10}}}
    rendered = render_docx(saved(document), data)
    with zipfile.ZipFile(io.BytesIO(rendered)) as archive:
        rels = archive.read("word/_rels/document.xml.rels").decode()
        assert len(re.findall(r'TargetMode="External"', rels)) == 2  # the hyperlinks really are external
        assert any(n.startswith("word/media/") for n in archive.namelist())
    check_rendered_docx(rendered)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.parent.name)
def test_bundled_sample_renders_pass_the_output_check(path):
    check_rendered_docx(render_docx(path.read_bytes(), json.loads((path.parent / "sample.json").read_text())))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_peer_corpus_renders_pass_the_output_check(case):
    check_rendered_docx(render_docx((CORPUS / "templates" / case["template"]).read_bytes(), case["data"]))


def test_long_rendered_table_is_not_mistaken_for_a_zip_bomb():
    document = Document()
    document.add_paragraph("{%p for row in rows %}")
    document.add_paragraph("The same words again and again, as long reports repeat them: {{ row }}")
    document.add_paragraph("{%p endfor %}")
    rendered = render_docx(saved(document), {"rows": ["n/a"] * 20_000})
    # The template caps would call this a bomb (>1 MB at >100:1); the rendered document is ours.
    assert "zip-bomb" in {f["found"] for f in docx_findings(rendered, DEFAULT_LIMITS)}
    check_rendered_docx(rendered)


# --- through the worker and the API ------------------------------------------------------------


@pytest.mark.e2e
def test_pipeline_refuses_before_converting_or_returning_anything(pipeline, canary):
    before = pipeline.supervisor.conversions
    with pytest.raises(UnsafeOutput) as caught:
        pipeline.produce(field_template(), {"instruction": include(canary[0])}, ("docx", "pdf", "odt"))
    assert caught.value.errors[0]["part"] == "word/document.xml"
    assert pipeline.supervisor.conversions == before
    assert canary[1] not in json.dumps(caught.value.to_problem())


def adhoc(client, docx: bytes, data: dict, query: str = "", formats: tuple[str, ...] = ("pdf",)):
    parts = {"template": (io.BytesIO(docx), "fields.docx"), "data": json.dumps(data),
             "options": json.dumps({"formats": list(formats)})}
    return client.post(f"/v1/renders?wait=60{query}", data=parts, content_type="multipart/form-data")


@pytest.mark.e2e
def test_job_whose_rendered_document_carries_a_field_ends_failed_naming_the_part(client, canary):
    response = adhoc(client, field_template(), {"instruction": include(canary[0])}, formats=("pdf", "docx"))
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["status"] == "failed", doc
    assert doc["files"] == []
    error = doc["error"]
    assert (error["status"], error["type"].rsplit("/", 1)[-1]) == (422, "unsafe-output")
    assert {(e["part"], e.get("paragraph"), e["found"]) for e in error["errors"]} == {("word/document.xml", 2, "field")}
    assert "word/document.xml paragraph 2" in error["detail"]
    download = adhoc(client, field_template(), {"instruction": include(canary[0])}, "&download=docx",
                     formats=("docx",))
    assert download.status_code == 422 and download.mimetype == "application/problem+json"
    for body in (response.data, download.data):
        assert canary[1].encode() not in body


@pytest.mark.e2e
def test_same_template_with_harmless_data_renders(client):
    response = adhoc(client, field_template(), {"instruction": "PAGE"}, "&download=pdf")
    assert response.status_code == 200, response.get_data(as_text=True)
    text = pdf_text(response.data)
    assert "Before the field" in text and "After the field" in text


def renamed_main_part(canary: Path) -> bytes:
    """A Word document whose real main part is word/document.bin (an INCLUDETEXT of the canary),
    with a harmless decoy left at word/document.xml."""
    document = Document()
    document.add_paragraph("Quarterly report")
    paragraph = document.add_paragraph()
    paragraph._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=\'{include(canary)}\'/>'))
    real = saved(document)
    out = io.BytesIO()
    main_type = b"wordprocessingml.document.main+xml"
    with zipfile.ZipFile(io.BytesIO(real)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b'"/word/document.xml"', b'"/word/document.bin"').replace(
                    b"</Types>", b'<Override PartName="/word/document.xml" ContentType="application/xml"/></Types>')
            elif info.filename == "_rels/.rels":
                data = data.replace(b'Target="word/document.xml"', b'Target="word/document.bin"')
            elif info.filename == "word/_rels/document.xml.rels":
                dst.writestr("word/_rels/document.bin.rels", data)
            elif info.filename == "word/document.xml":
                dst.writestr("word/document.bin", data)
                data = saved(Document())  # the decoy's bytes are a clean document's
                data = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
            dst.writestr(info.filename, data)
    assert main_type in zipfile.ZipFile(io.BytesIO(out.getvalue())).read("[Content_Types].xml")
    return out.getvalue()


@pytest.mark.e2e
def test_upload_and_adhoc_render_of_a_renamed_main_part_are_refused(client, canary):
    hostile = renamed_main_part(canary[0])
    upload = client.put("/v1/templates/renamed-main-part", data={"file": (io.BytesIO(hostile), "t.docx")},
                        content_type="multipart/form-data")
    render = adhoc(client, hostile, {})
    for response in (upload, render):
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert ("_rels/.rels", "main-part") in {(e["part"], e["found"]) for e in problem["errors"]}
        assert ("word/document.bin", "field") in {(e["part"], e["found"]) for e in problem["errors"]}
        assert canary[1].encode() not in response.data
    assert client.get("/v1/templates/renamed-main-part").status_code == 404
