"""What a PDF's document properties say: the template's own metadata, never the generator library's.

Checked as a user's PDF reader shows it (pypdf's Info dictionary and the catalog's ``/Lang``) on
real renders, plus unit tests of the .docx rewrite itself.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from docx import Document
from pypdf import PdfReader

from core.settings import PROJECT_ROOT
from helpers import assert_problem, docx_with, put_template
from worker.doc_metadata import with_document_metadata

INVOICE = json.loads((PROJECT_ROOT / "templates/invoice/sample.json").read_text(encoding="utf-8"))


def render(client, body: dict) -> dict[str, bytes]:
    response = client.post("/v1/renders?wait=60", json=body)
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    return {f["format"]: client.get(f["url"]).data for f in doc["files"]}


def info(pdf: bytes) -> tuple[dict, str | None]:
    reader = PdfReader(io.BytesIO(pdf))
    return dict(reader.metadata or {}), reader.trailer["/Root"].get("/Lang")


@pytest.mark.e2e
def test_invoice_pdf_names_its_title_and_language_not_python_docx(client):
    files = render(client, {"template": "invoice", "data": INVOICE, "formats": ["pdf", "docx"]})
    metadata, lang = info(files["pdf"])
    assert metadata["/Title"] == "发票 / Invoice"
    assert "python-docx" not in json.dumps(metadata, ensure_ascii=False)
    assert lang == "zh-CN"  # from the template's dc:language; LibreOffice said en-US before
    assert Document(io.BytesIO(files["docx"])).core_properties.author == ""


@pytest.mark.e2e
def test_an_uploaded_template_without_a_title_takes_its_registered_title(client):
    name = f"meta-{uuid.uuid4().hex[:8]}"
    assert put_template(client, name, docx_with("{{ who }}"), meta={"title": "问候函"}).status_code == 201
    try:
        metadata, _ = info(render(client, {"template": name, "data": {"who": "张三"}})["pdf"])
        assert metadata.get("/Title") == "问候函"
        assert "python-docx" not in json.dumps(metadata, ensure_ascii=False)
    finally:
        client.delete(f"/v1/templates/{name}")


@pytest.mark.e2e
def test_the_requests_metadata_overrides_the_templates(client):
    metadata = {"title": "2024 年度发票", "author": "财务处", "subject": "发票", "keywords": "发票, 2024",
                "language": "en-GB"}
    files = render(client, {"template": "invoice", "data": INVOICE, "options": {"pdf": {"metadata": metadata}}})
    shown, lang = info(files["pdf"])
    assert (shown["/Title"], shown["/Author"], shown["/Subject"], shown["/Keywords"]) == (
        "2024 年度发票", "财务处", "发票", "发票, 2024")
    assert lang == "en-GB"


BAD_METADATA = [({"language": "中文"}, "/options/pdf/metadata/language"),
                ({"language": "x" * 40}, "/options/pdf/metadata/language"),
                ({"title": "长" * 501}, "/options/pdf/metadata/title"),
                ({"creator": "me"}, "/options/pdf/metadata/creator")]


@pytest.mark.parametrize(("metadata", "pointer"), BAD_METADATA, ids=["not-bcp47", "too-long-tag", "long-title",
                                                                      "unknown-field"])
def test_bad_metadata_is_refused_before_queueing(app, metadata, pointer):
    response = app.test_client().post("/v1/renders", json={"template": "invoice", "data": INVOICE,
                                                           "options": {"pdf": {"metadata": metadata}}})
    body = assert_problem(response)
    assert {e["path"] for e in body["errors"]} == {pointer}


# --- the rewrite itself -------------------------------------------------------------------------


def core_xml(docx: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return z.read("docProps/core.xml").decode()


def without_core(docx: bytes) -> bytes:
    """``docx`` with no core-properties part, relationship or content type (as some tools write it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "docProps/core.xml":
                continue
            if item.filename in ("_rels/.rels", "[Content_Types].xml"):
                text = data.decode()
                text = "".join(part + ">" for part in text.split(">") if part and "core" not in part)
                data = text.encode()
            target.writestr(item, data)
    return out.getvalue()


def test_a_template_without_core_properties_gets_them_with_the_title():
    bare = without_core(docx_with("x"))
    assert "docProps/core.xml" not in zipfile.ZipFile(io.BytesIO(bare)).namelist()
    fixed = with_document_metadata(bare, title="年度报告")
    document = Document(io.BytesIO(fixed))  # python-docx finds the part through the relationship
    assert document.core_properties.title == "年度报告"
    assert document.core_properties.author == ""


def test_a_real_author_and_title_are_kept():
    source = Document(io.BytesIO(docx_with("x")))
    source.core_properties.author, source.core_properties.title = "市政府办公室", "原标题"
    out = io.BytesIO()
    source.save(out)
    fixed = Document(io.BytesIO(with_document_metadata(out.getvalue(), title="registered")))
    assert (fixed.core_properties.author, fixed.core_properties.title) == ("市政府办公室", "原标题")


def test_language_becomes_the_documents_default_language():
    source = Document(io.BytesIO(docx_with("x")))
    source.core_properties.language = "zh-CN"
    out = io.BytesIO()
    source.save(out)
    with zipfile.ZipFile(io.BytesIO(with_document_metadata(out.getvalue()))) as z:
        styles = z.read("word/styles.xml").decode()
    assert 'w:val="zh-CN"' in styles and 'w:eastAsia="zh-CN"' in styles


def test_a_broken_package_is_left_as_it_is():
    assert with_document_metadata(b"PK\x03\x04 not a zip") == b"PK\x03\x04 not a zip"
    assert "python-docx" not in core_xml(with_document_metadata(docx_with("x")))
