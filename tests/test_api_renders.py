"""Integrators' journeys through ``/v1/renders``: POST data, wait or poll, download, clean up.

Everything runs against the real app, a real Redis and a real ``wenshu worker`` with LibreOffice.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from datetime import datetime
from urllib.parse import quote

import pytest
from docx import Document
from jsonschema import Draft202012Validator
from redis import Redis
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from helpers import docx_with, pdf_text, squash

pytestmark = pytest.mark.e2e

GOV = "gov-info-annual-report-2019"




def invoice_sample(client) -> dict:
    response = client.get("/v1/templates/invoice/sample")
    assert response.status_code == 200
    return response.get_json()


def render(client, body: dict, wait: int = 60, **query: str):
    params = "&".join([f"wait={wait}", *(f"{k}={v}" for k, v in query.items())])
    return client.post(f"/v1/renders?{params}", json=body)


def finished(client, body: dict) -> dict:
    response = render(client, body)
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    return doc


def adhoc(client, docx: bytes, data, options: dict | None = None, data_as_file: bool = False, wait: int = 60):
    """POST a multipart ad-hoc render: template .docx part, data part, optional options part."""
    raw = json.dumps(data, ensure_ascii=False)
    parts = {"template": (io.BytesIO(docx), "ad-hoc.docx"),
             "data": (io.BytesIO(raw.encode()), "data.json", "application/json") if data_as_file else raw}
    if options is not None:
        parts["options"] = json.dumps(options, ensure_ascii=False)
    return client.post(f"/v1/renders?wait={wait}", data=parts, content_type="multipart/form-data")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def docx_text(data: bytes) -> str:
    """Every paragraph and table cell of a .docx, as a reader of the document sees them."""
    document = Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(texts)


# --- JSON renders ---------------------------------------------------------------------------


def test_render_with_wait_answers_the_finished_job_document(client):
    sample = invoice_sample(client)
    response = render(client, {"template": "invoice", "data": sample})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert response.headers["Location"] == f"/v1/renders/{doc['id']}"
    assert len(doc["id"]) == 32 and int(doc["id"], 16) >= 0
    assert doc["status"] == "finished"
    assert doc["error"] is None and doc["warnings"] == []
    latest = client.get("/v1/templates/invoice").get_json()["version"]
    assert doc["template"] == {"name": "invoice", "version": latest}
    (file,) = doc["files"]
    assert (file["name"], file["format"]) == ("invoice.pdf", "pdf")
    assert file["url"] == f"/v1/renders/{doc['id']}/files/invoice.pdf"
    pdf = client.get(file["url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert file["size"] == len(pdf.data)
    assert file["sha256"] == hashlib.sha256(pdf.data).hexdigest()
    assert squash(sample["invoice_no"]) in squash(pdf_text(pdf.data))
    timings = doc["timings_ms"]
    assert {"queued", "render", "convert"} <= timings.keys()
    assert all(isinstance(timings[k], int) and timings[k] >= 0 for k in ("queued", "render", "convert"))
    assert timings["convert"] > 0
    created, started, ended = (parse_time(doc[k]) for k in ("created_at", "started_at", "finished_at"))
    assert created <= started <= ended


def test_render_without_wait_is_accepted_then_polled_until_finished(client):
    response = client.post("/v1/renders", json={"template": "invoice", "data": invoice_sample(client)})
    assert response.status_code == 202
    doc = response.get_json()
    assert doc["status"] == "queued" and doc["files"] == [] and doc["finished_at"] is None
    location = response.headers["Location"]
    assert location == f"/v1/renders/{doc['id']}"
    deadline = time.monotonic() + 60
    while doc["status"] not in ("finished", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        polled = client.get(location)
        assert polled.status_code == 200
        doc = polled.get_json()
    assert doc["status"] == "finished", doc
    assert [f["format"] for f in doc["files"]] == ["pdf"]


def test_wait_with_download_answers_the_pdf_itself(client):
    sample = invoice_sample(client)
    response = render(client, {"template": "invoice", "data": sample}, download="pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    text = squash(pdf_text(response.data))
    assert squash(sample["invoice_no"]) in text
    assert squash(sample["seller"]["name"]) in text


def test_download_of_a_format_not_rendered_is_422(client):
    doc = finished(client, {"template": "invoice", "data": invoice_sample(client), "formats": ["docx"]})
    response = client.get(f"/v1/renders/{doc['id']}?download=pdf")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["path"] == "?download"


def test_docx_output_holds_the_data_in_its_paragraphs_and_cells(client):
    sample = invoice_sample(client)
    doc = finished(client, {"template": "invoice", "data": sample, "formats": ["docx"]})
    (file,) = doc["files"]
    assert (file["name"], file["format"]) == ("invoice.docx", "docx")
    response = client.get(file["url"])
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    text = docx_text(response.data)
    for value in (sample["invoice_no"], sample["buyer"]["name"], sample["items"][0]["description"]):
        assert value in text
    assert "{{" not in text and "{%" not in text


def test_odt_output_is_an_opendocument_holding_the_data(client):
    sample = invoice_sample(client)
    doc = finished(client, {"template": "invoice", "data": sample, "formats": ["odt", "pdf"]})
    assert [f["format"] for f in doc["files"]] == ["odt", "pdf"]
    response = client.get(doc["files"][0]["url"])
    assert response.mimetype == "application/vnd.oasis.opendocument.text"
    with zipfile.ZipFile(io.BytesIO(response.data)) as odt:
        assert odt.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        assert sample["invoice_no"].encode() in odt.read("content.xml")


def test_chinese_filename_survives_in_content_disposition(client):
    name = "政府信息公开 年报"
    doc = finished(client, {"template": "invoice", "data": invoice_sample(client), "filename": name,
                            "formats": ["pdf", "docx"]})
    assert [f["name"] for f in doc["files"]] == [f"{name}.pdf", f"{name}.docx"]
    for file in doc["files"]:
        response = client.get(file["url"])
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment")
        assert f"filename*=UTF-8''{quote(file['name'])}" in disposition


def test_filename_with_path_separators_cannot_escape(client):
    body = {"template": "invoice", "data": invoice_sample(client), "filename": "../../etc/报告.pdf"}
    doc = finished(client, body)
    (file,) = doc["files"]
    assert "/" not in file["name"] and file["name"].endswith("报告.pdf")
    assert client.get(file["url"]).status_code == 200


def test_deleted_render_is_gone_with_its_files(client):
    doc = finished(client, {"template": "invoice", "data": invoice_sample(client)})
    url = doc["files"][0]["url"]
    assert client.delete(f"/v1/renders/{doc['id']}").status_code == 204
    for path in (f"/v1/renders/{doc['id']}", url):
        response = client.get(path)
        assert response.status_code == 410 and response.mimetype == "application/problem+json"
        assert response.get_json()["reason"] == "deleted"
    assert client.delete(f"/v1/renders/{doc['id']}").status_code == 410


def test_expired_file_answers_410(client, settings):
    doc = finished(client, {"template": "invoice", "data": invoice_sample(client)})
    name = doc["files"][0]["name"]
    # What WENSHU_RESULT_TTL does to the bytes, done now: the job document outlives them.
    Redis.from_url(settings.redis_url).delete(f"{settings.key_prefix}:file:{doc['id']}:{name}")
    response = client.get(doc["files"][0]["url"])
    assert response.status_code == 410 and response.mimetype == "application/problem+json"
    assert name in response.get_json()["detail"]


# --- multipart ad-hoc renders ---------------------------------------------------------------


@pytest.mark.parametrize("data_as_file", [False, True], ids=["data-field", "data-file-part"])
def test_adhoc_multipart_render_fills_the_uploaded_template(client, data_as_file):
    template = docx_with("致 {{ name }}：", "金额 {{ amount|thousands }} 元")
    response = adhoc(client, template, {"name": "张三", "amount": 1234567},
                     {"formats": ["pdf", "docx"], "filename": "通知"}, data_as_file=data_as_file)
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    assert doc["template"]["name"] == "ad-hoc"
    assert doc["template"]["version"] == hashlib.sha256(template).hexdigest()
    assert [f["name"] for f in doc["files"]] == ["通知.pdf", "通知.docx"]
    text = squash(pdf_text(client.get(doc["files"][0]["url"]).data))
    assert "致张三：" in text and "金额1,234,567元" in text
    assert "张三" in docx_text(client.get(doc["files"][1]["url"]).data)


def test_an_adhoc_template_is_stored_and_fetched_under_its_whole_digest(client, app):
    """Stored under 12 hex digits (48 bits), a .docx crafted to share them (about 2^48 hashes) replaced
    the victim's bytes between its upload and its job: the job rendered the forgery. Under the whole
    SHA-256 no other bytes can take the victim's key; bytes under the short prefix are never read."""
    st = app.extensions["wenshu"]
    victim = docx_with("收款人 {{ who }}")
    digest = hashlib.sha256(victim).hexdigest()
    st.redis.set(st.keys.adhoc(digest[:12]), docx_with("FORGED {{ who }}"))
    doc = adhoc(client, victim, {"who": "李四"}).get_json()
    assert doc["status"] == "finished", doc
    assert doc["template"]["version"] == digest
    assert st.redis.get(st.keys.adhoc(digest)) == victim
    text = squash(pdf_text(client.get(doc["files"][0]["url"]).data))
    assert "收款人李四" in text and "FORGED" not in text


def test_adhoc_render_defaults_to_one_pdf(client):
    doc = adhoc(client, docx_with("Hello {{ who }}"), {"who": "world"}).get_json()
    assert doc["status"] == "finished", doc
    assert [f["format"] for f in doc["files"]] == ["pdf"]
    assert "Helloworld" in squash(pdf_text(client.get(doc["files"][0]["url"]).data))


# --- validation: strict vs warn -------------------------------------------------------------


@pytest.fixture()
def unbalanced_gov_report(client) -> dict:
    """The bundled 2019 report's sample with one cell changed so 一+二 ≠ 三+四 for natural persons."""
    response = client.get(f"/v1/templates/{GOV}/sample")
    assert response.status_code == 200
    data = response.get_json()
    data["applications"]["new_requests"]["natural_person"] += 1
    return data


CHANGED_CELL = "/data/applications/new_requests/natural_person"


def test_strict_validation_refuses_a_rule_violation_naming_rule_and_cells(client, unbalanced_gov_report):
    response = client.post("/v1/renders?wait=60", json={"template": GOV, "data": unbalanced_gov_report})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/rule-violation")
    rules = {e["rule"] for e in body["errors"]}
    assert "balance" in rules
    balance = next(e for e in body["errors"] if e["rule"] == "balance")
    assert CHANGED_CELL in balance["cells"]
    assert balance["left"] != balance["right"]
    assert all(e["path"].startswith("/data/") for e in body["errors"])


def test_warn_validation_renders_anyway_and_lists_the_violations(client, unbalanced_gov_report):
    strict = client.post("/v1/renders", json={"template": GOV, "data": unbalanced_gov_report}).get_json()
    response = client.post("/v1/renders?wait=60", json={"template": GOV, "data": unbalanced_gov_report,
                                                        "validation": "warn"})
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    assert [w["rule"] for w in doc["warnings"]] == [e["rule"] for e in strict["errors"]]
    assert any(CHANGED_CELL in w["cells"] for w in doc["warnings"])
    pdf = client.get(doc["files"][0]["url"])
    assert squash(unbalanced_gov_report["agency"]) in squash(pdf_text(pdf.data))


def test_valid_gov_report_sample_renders_without_warnings(client):
    sample = client.get(f"/v1/templates/{GOV}/sample").get_json()
    doc = finished(client, {"template": GOV, "data": sample, "validation": "warn"})
    assert doc["warnings"] == []


# --- failing jobs end failed, with the reason --------------------------------------------------


FAILING_TEMPLATES = [
    ("runtime-error", "Total: {{ amount // zero }}", "ZeroDivisionError"),
    ("sandbox", "{{ name.__class__.__mro__[1].__subclasses__() }}", ""),
]


@pytest.mark.parametrize(("paragraph", "reason"), [c[1:] for c in FAILING_TEMPLATES],
                         ids=[c[0] for c in FAILING_TEMPLATES])
def test_template_that_cannot_render_ends_failed_with_the_reason(client, paragraph, reason):
    response = adhoc(client, docx_with("Report", paragraph), {"amount": 5, "zero": 0, "name": "x"})
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["status"] == "failed", doc
    assert doc["files"] == [] and doc["finished_at"] is not None
    error = doc["error"]
    assert {"type", "title", "status", "detail"} <= error.keys()
    assert error["status"] == 422
    assert reason in error["detail"]
    assert "Traceback" not in json.dumps(error)
    # Never lost: the job document keeps saying why.
    assert client.get(f"/v1/renders/{doc['id']}").get_json()["error"] == error


def test_download_of_a_failed_job_answers_its_problem(client):
    parts = {"template": (io.BytesIO(docx_with("{{ x // zero }}")), "t.docx"), "data": '{"x": 1, "zero": 0}'}
    response = client.post("/v1/renders?wait=60&download=pdf", data=parts, content_type="multipart/form-data")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert "ZeroDivisionError" in body["detail"] and body["job"]["status"] == "failed"


@pytest.mark.parametrize(("paragraph", "tag", "message"), [
    ("Total: {{ amount|no_such_filter }}", "{{ amount|no_such_filter }}", "unknown filter 'no_such_filter'"),
    ("Total: {{ amount }", "{{ amount }", ""),
], ids=["unknown-filter", "unclosed-tag"])
def test_adhoc_template_with_tag_errors_is_refused_before_queueing(client, paragraph, tag, message):
    parts = {"template": (io.BytesIO(docx_with("Report", paragraph)), "t.docx"), "data": '{"amount": 5}'}
    response = client.post("/v1/renders", data=parts, content_type="multipart/form-data")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    problem = response.get_json()["errors"][0]
    assert (problem["part"], problem["paragraph"]) == ("word/document.xml", 2)
    assert problem["tag"].startswith(tag[:9]) and message in problem.get("message_en", problem["message"])


def test_job_documents_match_the_published_openapi_schema(client):
    spec = client.get("/openapi.json").get_json()
    registry = Registry().with_resource("urn:wenshu-openapi", DRAFT202012.create_resource(spec))
    job_ref = {"$ref": "urn:wenshu-openapi#/components/schemas/Job"}
    job_schema = Draft202012Validator(job_ref, registry=registry)
    ok = finished(client, {"template": "invoice", "data": invoice_sample(client), "formats": ["pdf", "docx"]})
    failed = adhoc(client, docx_with("{{ x // zero }}"), {"x": 1, "zero": 0}).get_json()
    queued = client.post("/v1/renders", json={"template": "invoice", "data": invoice_sample(client)})
    queued = queued.get_json()
    assert (ok["status"], failed["status"], queued["status"]) == ("finished", "failed", "queued")
    for doc in (ok, failed, queued):
        assert [e.message for e in job_schema.iter_errors(doc)] == [], doc
