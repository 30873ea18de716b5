"""Errors an integrator can fix in one round trip: every problem, each at its own pointer.

The API here runs on a Redis of this module's own with no worker, so whatever is queued stays
queued and ``queued()`` counts exactly what a request put there: a refused request adds nothing.
"""

from __future__ import annotations

import io
import json
import uuid

import pytest

from conftest import private_redis
from core.download_names import ascii_fallback, attachment
from core.settings import PROJECT_ROOT
from helpers import assert_problem, docx_with, put_template

INVOICE = json.loads((PROJECT_ROOT / "templates/invoice/sample.json").read_text(encoding="utf-8"))
GOV = "gov-info-annual-report-2021"
GOV_SAMPLE = json.loads((PROJECT_ROOT / f"templates/{GOV}/sample.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def app(tmp_path_factory, settings):
    from service.app import create_app

    with private_redis(tmp_path_factory, settings, "precise") as private:
        yield create_app(private)


@pytest.fixture()
def api(app):
    return app.test_client()


def queued(app) -> int:
    return app.extensions["wenshu"].queue.count


def invoice(**changes) -> dict:
    data = json.loads(json.dumps(INVOICE))
    data.update(changes)
    return data


def gov() -> dict:
    return json.loads(json.dumps(GOV_SAMPLE))


# --- pointers ---------------------------------------------------------------------------------


def test_each_missing_required_key_is_named_at_its_own_pointer(api):
    data = invoice()
    del data["currency"], data["buyer"]
    body = assert_problem(api.post("/v1/renders", json={"template": "invoice", "data": data}))
    assert sorted(e["path"] for e in body["errors"]) == ["/data/buyer", "/data/currency"]


def test_an_empty_gov_report_names_all_nine_missing_sections(api):
    body = assert_problem(api.post("/v1/renders", json={"template": GOV, "data": {}}))
    assert sorted(e["path"] for e in body["errors"]) == sorted(f"/data/{k}" for k in GOV_SAMPLE)
    assert len(body["errors"]) == 9


def test_an_unknown_key_is_named_at_its_own_pointer(api):
    data = invoice(extra_key=1)
    data["buyer"]["nickname"] = "x"
    body = assert_problem(api.post("/v1/renders", json={"template": "invoice", "data": data}))
    assert sorted(e["path"] for e in body["errors"]) == ["/data/buyer/nickname", "/data/extra_key"]
    assert "extra_key" in next(e["message"] for e in body["errors"] if e["path"] == "/data/extra_key")


def test_unknown_request_fields_are_each_named(api):
    body = assert_problem(api.post("/v1/renders", json={"template": "invoice", "data": INVOICE, "colour": 1,
                                                        "size": 2}))
    assert [e["path"] for e in body["errors"]] == ["/colour", "/size"]


def test_schema_and_rule_violations_come_in_one_answer(api):
    data = gov()
    del data["shortcomings"]
    data["applications"]["new_requests"]["natural_person"] += 1  # 一+二 ≠ 三+四, and the row total
    body = assert_problem(api.post("/v1/renders", json={"template": GOV, "data": data}))
    assert body["type"].endswith("/invalid-data")
    assert "/data/shortcomings" in [e["path"] for e in body["errors"]]
    rules = {e["rule"] for e in body["errors"] if "rule" in e}
    assert {"balance", "row_total"} <= rules, body["errors"]
    assert "rule violation" in body["detail"]


def test_rules_on_data_the_schema_refused_answer_422_not_500(api):
    data = gov()
    data["applications"]["carried_over"] = "很多"  # rules index it by column: they fail, quietly
    body = assert_problem(api.post("/v1/renders", json={"template": GOV, "data": data}))
    assert body["errors"][0]["path"] == "/data/applications/carried_over"
    assert all("error" not in e for e in body["errors"])


def test_an_upload_sample_missing_two_keys_names_both(api):
    schema = {"type": "object", "required": ["a", "b"], "properties": {"a": {}, "b": {}}}
    body = assert_problem(put_template(api, f"p-{uuid.uuid4().hex[:8]}", docx_with("{{ a }}{{ b }}"),
                                       schema=schema, sample={}))
    assert sorted(e["path"] for e in body["errors"]) == ["/sample/a", "/sample/b"]


# --- query parameters, checked before anything is queued ---------------------------------------

QUERY_ERRORS = [
    ("wait=-1", ["?wait"]),
    ("wait=120", ["?wait"]),
    ("wait=nan", ["?wait"]),
    ("wait=10&download=docx", ["?download"]),  # the request renders only pdf
    ("wait=10&download=xlsx", ["?download"]),
    ("download=pdf", ["?download"]),  # without wait it would be ignored
    ("wait=61&download=odt", ["?download", "?wait"]),
]


@pytest.mark.parametrize(("query", "pointers"), QUERY_ERRORS, ids=[q for q, _ in QUERY_ERRORS])
def test_a_bad_query_is_refused_naming_the_parameter_and_nothing_is_queued(app, api, query, pointers):
    before = queued(app)
    body = assert_problem(api.post(f"/v1/renders?{query}", json={"template": "invoice", "data": INVOICE}))
    assert sorted(e["path"] for e in body["errors"]) == pointers
    assert body["type"].endswith("/invalid-request")
    assert queued(app) == before


def test_wait_at_the_bounds_is_accepted(app, api):
    before = queued(app)
    response = api.post("/v1/renders?wait=0", json={"template": "invoice", "data": INVOICE})
    assert response.status_code == 202 and queued(app) == before + 1


def test_get_with_a_wait_outside_the_bounds_or_a_format_not_rendered_is_422(api):
    job = api.post("/v1/renders", json={"template": "invoice", "data": INVOICE}).get_json()
    for query, pointer in (("wait=120", "?wait"), ("wait=-1", "?wait"), ("download=docx", "?download")):
        body = assert_problem(api.get(f"/v1/renders/{job['id']}?{query}"))
        assert [e["path"] for e in body["errors"]] == [pointer]


def test_render_download_needs_a_format_among_the_requested_ones(app, api):
    before = queued(app)
    for query, pointer in (("", "?format"), ("?format=docx", "?format"), ("?format=pdf&wait=99", "?wait")):
        body = assert_problem(api.post(f"/v1/renders/download{query}", json={"template": "invoice", "data": INVOICE}))
        assert [e["path"] for e in body["errors"]] == [pointer]
    assert queued(app) == before


def test_render_download_still_running_answers_202_with_the_job(app, api):
    # No worker serves this module's queue: the wait ends with the job queued.
    response = api.post("/v1/renders/download?format=pdf&wait=0", json={"template": "invoice", "data": INVOICE})
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    assert response.headers["Location"] == f"/v1/renders/{response.get_json()['id']}"


@pytest.mark.parametrize("url", ["http://93.184.215.14/hook", "HTTP://93.184.215.14/hook"])
def test_a_plain_http_callback_is_refused_without_the_private_network_setting(app, api, url):
    before = queued(app)
    body = assert_problem(api.post("/v1/renders", json={"template": "invoice", "data": INVOICE, "callback_url": url}))
    assert [e["path"] for e in body["errors"]] == ["/callback_url"] and "https" in body["detail"]
    assert queued(app) == before


# --- multipart file parts without a filename ----------------------------------------------------


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body as curl -F "name=<file" sends it: a part without filename= when None."""
    boundary = "wenshu-" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.write(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_a_template_part_without_a_filename_is_stored_byte_for_byte(api):
    name, docx = f"nofn-{uuid.uuid4().hex[:8]}", docx_with("无文件名 {{ who }}")
    assert any(b > 0x7F for b in docx)  # a zip: bytes that are not UTF-8 text
    body, content_type = _multipart([("file", None, docx), ("title", None, "标题".encode())])
    response = api.put(f"/v1/templates/{name}", data=body, content_type=content_type)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert api.get(f"/v1/templates/{name}/file").data == docx
    assert next(t for t in api.get("/v1/templates").get_json() if t["name"] == name)["title"] == "标题"


def test_lint_and_adhoc_render_take_a_part_without_a_filename(app, api):
    body, content_type = _multipart([("file", None, docx_with("{{ broken "))])
    lint = api.post("/v1/templates/lint", data=body, content_type=content_type).get_json()
    assert lint["ok"] is False
    before = queued(app)
    body, content_type = _multipart([("template", None, docx_with("{{ who }}")), ("data", None, b'{"who": "x"}')])
    assert api.post("/v1/renders", data=body, content_type=content_type).status_code == 202
    assert queued(app) == before + 1


def test_a_missing_file_part_says_which_parts_arrived(api):
    body, content_type = _multipart([("docx", "t.docx", docx_with("x"))])
    problem = assert_problem(api.put("/v1/templates/whatever", data=body, content_type=content_type), 400)
    assert "'file'" in problem["detail"] and "'docx'" in problem["detail"]
    assert [e["path"] for e in problem["errors"]] == ["file"]


def test_a_part_without_a_name_is_a_400_not_a_500(api):
    body = (b'--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n'
            b'--b\r\nContent-Disposition: form-data; name="data"\r\n\r\n{}\r\n--b--\r\n')
    problem = assert_problem(api.post("/v1/renders", data=body, content_type="multipart/form-data; boundary=b"), 400)
    assert [e["path"] for e in problem["errors"]] == ["template"]


# --- download names -------------------------------------------------------------------------------

FALLBACKS = [("发票-001.pdf", "document-001.pdf"), ("政府信息公开工作年度报告.pdf", "document.pdf"),
             ("invoice.pdf", "invoice.pdf"), ("Rapport été.docx", "Rapport ete.docx"), ("报告", "document")]


@pytest.mark.parametrize(("name", "fallback"), FALLBACKS, ids=[f for _, f in FALLBACKS])
def test_the_plain_filename_fallback_keeps_meaning(name, fallback):
    assert ascii_fallback(name) == fallback
    header = attachment(name)
    assert header.startswith(f'attachment; filename="{fallback}"')
    assert ("filename*=UTF-8''" in header) == (name != fallback)
