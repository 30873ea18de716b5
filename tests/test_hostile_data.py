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

from core.payload import JobDocument, RenderPayload, TemplateRef
from core.stores import now_iso
from helpers import assert_problem, docx_with, pdf_text, put_template, squash
from service.registry import version_of

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
                "subscript", "rtl", "lang", "font", "url"]
"""Every $rich option whose grammar needs no template: the API refuses these before queueing."""


def job_documents(app) -> set[bytes]:
    """The job documents in Redis: a render the API refused must not have added one."""
    st = app.extensions["wenshu"]
    return {key for key in st.redis.scan_iter(match=st.keys.job("*")) if not key.endswith(b":ended")}


def assert_refused_before_queueing(app, response) -> dict:
    """A 422 at POST (no job in the body, no job document, nothing queued); return the problem."""
    body = assert_problem(response)
    assert "job" not in body, body
    return body


@pytest.fixture()
def nothing_queued(app):
    """Fails the test if it left a new job document or a longer queue behind."""
    st = app.extensions["wenshu"]
    before, queued = job_documents(app), st.queue.count
    yield
    assert job_documents(app) == before, "a refused render must not create a job"
    assert st.queue.count <= queued, "a refused render must not be queued"


@pytest.mark.parametrize("option", RICH_OPTIONS)
def test_xml_in_a_rich_option_is_refused_at_post_naming_its_pointer(client, app, canary, nothing_queued, option):
    hostile = "x" + field_xml(canary[0])
    if option == "url":
        hostile = "https://example.org/" + field_xml(canary[0])
    data = {"title": {"$rich": [{"text": "标题", option: hostile}]}}
    body = assert_refused_before_queueing(app, post(client, docx_with("{{r title }}"), data))
    assert body["errors"][0]["path"] == f"/data/title/$rich/0/{option}"
    assert canary[1] not in json.dumps(body)


def test_xml_in_a_style_fails_the_render_naming_its_pointer(client, canary):
    """Only the template knows its styles, so the worker judges ``style``: the job fails, with the pointer."""
    data = {"title": {"$rich": [{"text": "标题", "style": "x" + field_xml(canary[0])}]}}
    body = assert_problem(post(client, docx_with("{{r title }}"), data))
    assert body["errors"][0]["path"] == "/data/title/$rich/0/style"
    assert "character style of this template" in body["errors"][0]["message"]
    assert body["job"]["status"] == "failed" and body["job"]["files"] == []
    assert canary[1] not in json.dumps(body)


@pytest.mark.parametrize(("value", "pointer"), [
    ({"$link": {"url": "javascript:alert(1)//https://x", "text": "x"}}, "/data/title/$link/url"),
    ({"$link": {"url": 'https://example.org/"><w:fldSimple w:instr="FILENAME"/>', "text": "x"}},
     "/data/title/$link/url"),
    ({"$image": {"data": "aGVsbG8=", "anchor": "file:///etc/passwd"}}, "/data/title/$image"),
    ({"$listing": "bell\x07"}, "/data/title/$listing"),
], ids=["javascript-link", "link-breaking-its-attribute", "image-anchor", "control-character"])
def test_hostile_typed_value_is_refused_at_post_naming_its_pointer(client, app, nothing_queued, value, pointer):
    body = assert_refused_before_queueing(app, post(client, docx_with("{{r title }}"), {"title": value}))
    assert body["errors"][0]["path"] == pointer


HOSTILE_COLOR = {"title": {"$rich": [{"text": "标题", "color": "FF0000" + field_xml("/etc/hostname")}]}}


@pytest.mark.parametrize("validation", ["strict", "warn"])
def test_registered_template_refuses_a_hostile_typed_value_before_queueing_in_both_modes(
        client, app, nothing_queued, validation):
    assert put_template(client, "hostile-typed", docx_with("{{r title }}")).status_code in (200, 201)
    response = client.post("/v1/renders", json={"template": "hostile-typed", "data": HOSTILE_COLOR,
                                                "validation": validation})
    body = assert_refused_before_queueing(app, response)
    assert body["errors"][0]["path"] == "/data/title/$rich/0/color"
    assert "6 hex digits" in body["errors"][0]["message"]


def test_uploaded_sample_with_a_hostile_typed_value_is_refused_naming_its_pointer(client):
    response = put_template(client, "hostile-sample", docx_with("{{r title }}"), sample=HOSTILE_COLOR)
    body = assert_problem(response)
    assert body["errors"][0]["path"] == "/sample/title/$rich/0/color"
    assert client.get("/v1/templates/hostile-sample").status_code == 404


def test_job_queued_past_the_api_is_still_held_to_the_grammar_by_the_worker(client, app):
    """A job that reached the queue without the API's check (an older API, a direct enqueue) fails alone."""
    st = app.extensions["wenshu"]
    docx = docx_with("{{r title }}")
    version = version_of(docx)
    st.templates.put_adhoc(version, docx, st.settings.result_ttl)
    job_id = uuid.uuid4().hex
    st.jobs.create(JobDocument(id=job_id, template={"name": "bypass", "version": version}, formats=["pdf"],
                               warnings=[], created_at=now_iso()))
    payload = RenderPayload(id=job_id, template=TemplateRef("bypass", version, adhoc=True), data=HOSTILE_COLOR,
                            formats=("pdf",), options={}, basename="bypass", callback_url=None, owner="test")
    st.queue.enqueue("worker.jobs.render_job", payload.to_dict(), job_id=job_id, result_ttl=0,
                     failure_ttl=st.settings.result_ttl)
    job = client.get(f"/v1/renders/{job_id}?wait=60").get_json()
    assert job["status"] == "failed" and job["files"] == [], job
    assert job["error"]["status"] == 422
    assert job["error"]["errors"][0]["path"] == "/data/title/$rich/0/color"


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
