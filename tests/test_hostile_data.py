"""Hostile data and templates through the API: nothing a client sends becomes Word XML.

The attack these stop: docxtpl formats $rich options into OOXML unescaped, so a color of
``FF0000"/></w:rPr><w:fldSimple w:instr="INCLUDETEXT …"/>`` put fields into the output and a
FILENAME field printed the server's temp path into the PDF; ``|safe`` in a template or
``{% autoescape false %}`` did the same with XML in the data. Each test sends the request an
integrator (or attacker) would send and checks what comes back: the 422 problem+json and its
JSON pointer or part/paragraph, or, when the request is legitimate, the text in the PDF and the
absence of fields, objects and altChunks in every part of the DOCX.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from lxml import etree

from helpers import assert_problem, docx_with, pdf_text, squash

pytestmark = pytest.mark.e2e

FORBIDDEN_ELEMENTS = {"fldSimple", "instrText", "fldChar", "object", "altChunk"}
"""Fields (INCLUDETEXT, FILENAME...), OLE objects and imported chunks: none may come from data."""


@pytest.fixture()
def canary(tmp_path) -> tuple[str, str]:
    """A secret file in tmp: (its path, its content). No output may ever hold the content."""
    secret = f"CANARY-{uuid.uuid4().hex}"
    path = tmp_path / "wenshu-secret.txt"
    path.write_text(secret)
    return str(path), secret


def field_xml(canary_path: str) -> str:
    """The XML an attacker wants in the document: an INCLUDETEXT of the secret and a FILENAME."""
    return (f'"/></w:rPr><w:fldSimple w:instr="INCLUDETEXT &quot;{canary_path}&quot;"/>'
            '<w:fldSimple w:instr="FILENAME \\p"/><w:altChunk r:id="rId1"/><w:r><w:rPr><w:b w:val="')


def post(client, docx: bytes, data: dict, query: str = "wait=60&download=pdf", formats=("pdf",)):
    parts = {"template": (io.BytesIO(docx), "hostile.docx"), "data": json.dumps(data, ensure_ascii=False),
             "options": json.dumps({"formats": list(formats)})}
    return client.post(f"/v1/renders?{query}", data=parts, content_type="multipart/form-data")


def docx_parts(docx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.endswith((".xml", ".rels"))}


def elements_named(xml: bytes, names: set[str]) -> list[str]:
    """Local names of the elements of ``xml`` in ``names`` (text that merely mentions them is not one)."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    return [etree.QName(e).localname for e in root.iter() if isinstance(e.tag, str)
            and etree.QName(e).localname in names]


RICH_OPTIONS = ["color", "highlight", "size", "underline", "bold", "italic", "strike", "superscript",
                "subscript", "rtl", "lang", "font", "style", "url"]


@pytest.mark.parametrize("option", RICH_OPTIONS)
def test_xml_in_a_rich_option_fails_the_render_naming_its_pointer(client, canary, option):
    hostile = "x" + field_xml(canary[0])
    if option == "url":
        hostile = "https://example.org/" + field_xml(canary[0])
    data = {"title": {"$rich": [{"text": "标题", option: hostile}]}}
    body = assert_problem(post(client, docx_with("{{r title }}"), data))
    assert body["errors"][0]["path"] == f"/data/title/$rich/0/{option}"
    assert body["job"]["status"] == "failed" and body["job"]["files"] == []
    assert canary[1] not in json.dumps(body)


@pytest.mark.parametrize(("value", "pointer"), [
    ({"$link": {"url": "javascript:alert(1)//https://x", "text": "x"}}, "/data/title/$link/url"),
    ({"$link": {"url": 'https://example.org/"><w:fldSimple w:instr="FILENAME"/>', "text": "x"}},
     "/data/title/$link/url"),
    ({"$image": {"data": "aGVsbG8=", "anchor": "file:///etc/passwd"}}, "/data/title/$image"),
    ({"$listing": "bell\x07"}, "/data/title/$listing"),
], ids=["javascript-link", "link-breaking-its-attribute", "image-anchor", "control-character"])
def test_hostile_typed_value_fails_the_render_naming_its_pointer(client, value, pointer):
    body = assert_problem(post(client, docx_with("{{r title }}"), {"title": value}))
    assert body["errors"][0]["path"] == pointer


@pytest.mark.parametrize(("paragraph", "message"), [
    ("Title: {{ title|safe }}", "'safe' filter is not available"),
    ("Title: {{ '</w:t></w:r><w:fldSimple w:instr=\"FILENAME\"/><w:r><w:t>'|safe }}",
     "'safe' filter is not available"),
    ("{% autoescape false %}{{ title }}{% endautoescape %}", "autoescape"),
    ("Title: {{ title|urlize }}", "'urlize' filter is not available"),
], ids=["safe-on-data", "safe-on-literal-xml", "autoescape-false", "urlize"])
def test_template_that_would_emit_raw_xml_is_refused_before_queueing(client, paragraph, message):
    data = {"title": '</w:t></w:r><w:fldSimple w:instr="FILENAME"/><w:r><w:t>'}
    body = assert_problem(post(client, docx_with("Report", paragraph), data, query=""))
    problem = body["errors"][0]
    assert (problem["part"], problem["paragraph"]) == ("word/document.xml", 2)
    assert message in problem["message"]


def test_uploading_a_template_with_the_safe_filter_is_refused(client):
    parts = {"file": (io.BytesIO(docx_with("Report", "{{ title|safe }}")), "template.docx")}
    body = assert_problem(client.put("/v1/templates/hostile-safe", data=parts, content_type="multipart/form-data"))
    assert body["errors"][0]["paragraph"] == 2 and "'safe' filter" in body["errors"][0]["message"]
    assert client.get("/v1/templates/hostile-safe").status_code == 404


@pytest.mark.parametrize("paragraph", [
    "{{ title|replace('w:t'|e, 'w:fldSimple') }}",
    "{{ (title|e)[0:5] }}",
    "{{ title.xml }}",
], ids=["replace-inside-the-xml", "slice-of-the-xml", "read-the-xml"])
def test_template_taking_a_typed_value_apart_fails_as_unsafe(client, paragraph):
    data = {"title": {"$rich": [{"text": "INCLUDETEXT secret", "bold": True}]}}
    body = assert_problem(post(client, docx_with("Report", paragraph), data))
    assert body["type"].endswith("/unsafe-template")
    assert body["job"]["files"] == []


def test_xml_in_legitimate_data_prints_as_text_and_never_becomes_a_field(client, canary):
    attack = '</w:t></w:r>' + field_xml(canary[0])
    data = {"plain": "P:" + attack, "listing": {"$listing": "L:" + attack + "\nline 2"},
            "rich": {"$rich": [{"text": "R:" + attack, "bold": True, "color": "C00000"}]},
            "link": {"$link": {"url": "https://example.org/?q=1&r=2", "text": "K:" + attack}},
            "table": [{"cell": "T:" + attack}]}
    template = docx_with("{{ plain }}", "{{ listing }}", "{{r rich }}", "{{r link }}",
                         "{%p for row in table %}", "{{ row.cell }}", "{%p endfor %}")
    response = post(client, template, data, query="wait=60", formats=("pdf", "docx"))
    job = response.get_json()
    assert response.status_code == 200 and job["status"] == "finished", job
    pdf, docx = (client.get(f["url"]).data for f in job["files"])
    text = squash(pdf_text(pdf))
    for prefix in ("P:", "L:", "R:", "K:", "T:"):
        assert squash(prefix + attack) in text
    for name, xml in docx_parts(docx).items():
        assert elements_named(xml, FORBIDDEN_ELEMENTS) == [], name
        assert canary[1].encode() not in xml
    assert canary[1] not in pdf_text(pdf)
    assert ".docx" not in pdf_text(pdf).replace("hostile.docx", "")  # no FILENAME field printed a path
