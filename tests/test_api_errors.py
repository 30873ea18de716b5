"""Every way a request can go wrong answers RFC 9457 problem+json with the right status (README, "HTTP API").

These tests need Redis but no worker: each error is answered before anything would render.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from core.errors import ConfigError
from core.settings import PROJECT_ROOT, Settings
from helpers import assert_problem, docx_with, free_port
from service.app import OPEN_PATHS, create_app
from service.validation import RENDER_REQUEST_SCHEMA

INVOICE_SAMPLE = json.loads((PROJECT_ROOT / "templates/invoice/sample.json").read_text(encoding="utf-8"))
OPENAPI = json.loads((PROJECT_ROOT / "service/openapi.json").read_text(encoding="utf-8"))
NOPE = "no-such-report"
LINT = "/v1/templates/lint"




@pytest.fixture()
def api(app):
    return app.test_client()


def post_json(api, body, path="/v1/renders"):
    return api.post(path, data=json.dumps(body), content_type="application/json")


def multipart(api, parts: dict, path="/v1/renders"):
    return api.post(path, data=parts, content_type="multipart/form-data")


# --- renders: the request itself -------------------------------------------------------------

# (case id, request, expected status, a fragment the detail must contain)
REQUEST_ERRORS = [
    ("invalid-json",
     lambda api: api.post("/v1/renders", data='{"template": ', content_type="application/json"),
     400, "not valid JSON"),
    ("body-is-a-list", lambda api: post_json(api, [{"template": "invoice"}]), 400, "JSON object"),
    ("body-is-a-string", lambda api: post_json(api, "invoice"), 400, "JSON object"),
    ("text-plain", lambda api: api.post("/v1/renders", data="template=invoice", content_type="text/plain"),
     415, "application/json"),
    ("form-urlencoded", lambda api: api.post("/v1/renders", data={"template": "invoice"}), 415, "multipart"),
    ("unknown-template", lambda api: post_json(api, {"template": NOPE, "data": {}}),
     404, NOPE),
    ("unknown-version", lambda api: post_json(api, {"template": "invoice", "template_version": "0123456789ab",
                                                    "data": INVOICE_SAMPLE}), 404, "0123456789ab"),
    ("missing-data", lambda api: post_json(api, {"template": "invoice"}), 422, "data"),
    ("multipart-without-template-part", lambda api: multipart(api, {"data": "{}"}), 400, "'template'"),
    ("multipart-without-data-part",
     lambda api: multipart(api, {"template": (io.BytesIO(docx_with("Hi")), "t.docx")}), 400, "'data'"),
    ("multipart-data-not-json",
     lambda api: multipart(api, {"template": (io.BytesIO(docx_with("Hi")), "t.docx"), "data": "{nope"}),
     400, "'data' part is not valid JSON"),
    ("multipart-options-not-object",
     lambda api: multipart(api, {"template": (io.BytesIO(docx_with("Hi")), "t.docx"), "data": "{}",
                                 "options": "[1]"}), 400, "'options' part"),
    ("adhoc-template-not-a-docx",
     lambda api: multipart(api, {"template": (io.BytesIO(b"%PDF-1.7 not a docx"), "t.docx"), "data": "{}"}),
     422, "safety checks"),
    ("unknown-job", lambda api: api.get("/v1/renders/" + "0" * 32), 404, "0" * 32),
    ("malformed-job-id", lambda api: api.get("/v1/renders/../../etc"), 404, ""),
    ("delete-unknown-job", lambda api: api.delete("/v1/renders/" + "f" * 32), 404, "f" * 32),
    ("file-of-unknown-job", lambda api: api.get("/v1/renders/" + "e" * 32 + "/files/report.pdf"), 404, ""),
    ("unknown-route", lambda api: api.get("/v2/renders"), 404, "not found"),
    ("wrong-method-on-collection", lambda api: api.delete("/v1/templates"), 405, "not allowed"),
    ("wrong-method-on-renders", lambda api: api.put("/v1/renders"), 405, "not allowed"),  # GET lists them
    ("unknown-template-description", lambda api: api.get(f"/v1/templates/{NOPE}"), 404, NOPE),
    ("unknown-template-file", lambda api: api.get(f"/v1/templates/{NOPE}/file"), 404, NOPE),
    ("unknown-template-sample", lambda api: api.get(f"/v1/templates/{NOPE}/sample"), 404, NOPE),
    ("delete-unknown-template", lambda api: api.delete(f"/v1/templates/{NOPE}"), 404, NOPE),
    ("lint-without-file", lambda api: multipart(api, {}, path=LINT), 400, "'file'"),
    ("lint-not-a-docx",
     lambda api: multipart(api, {"file": (io.BytesIO(b"PK\x03\x04 broken"), "t.docx")}, path=LINT),
     422, ""),
]


@pytest.mark.parametrize(("send", "status", "detail"), [case[1:] for case in REQUEST_ERRORS],
                         ids=[case[0] for case in REQUEST_ERRORS])
def test_error_answers_problem_json_with_status(api, send, status, detail):
    body = assert_problem(send(api), status)
    assert detail.lower() in body["detail"].lower(), body


def test_unknown_template_points_at_the_template_field(api):
    body = assert_problem(post_json(api, {"template": NOPE, "data": {}}), 404)
    assert body["errors"] == [{"path": "/template", "message": "unknown template"}]


def test_unknown_version_points_at_the_version_field(api):
    body = assert_problem(post_json(api, {"template": "invoice", "template_version": "0123456789ab",
                                          "data": INVOICE_SAMPLE}), 404)
    assert [e["path"] for e in body["errors"]] == ["/template_version"]


def test_missing_data_is_named_in_the_errors(api):
    body = assert_problem(post_json(api, {"template": "invoice"}), 422)
    assert any("'data' is a required property" in e["message"] for e in body["errors"]), body


def test_wrong_method_lists_the_allowed_ones(api):
    response = api.delete("/v1/templates")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


# (request fields that break the render request's own schema, JSON pointers the 422 must name)
WRONG_TYPES = [
    ({"formats": "pdf"}, ["/formats"]),
    ({"formats": ["pdf", "xls"]}, ["/formats/1"]),
    ({"formats": []}, ["/formats"]),
    ({"formats": ["pdf", "pdf"]}, ["/formats"]),
    ({"data": ["not", "an", "object"]}, ["/data"]),
    ({"data": "text"}, ["/data"]),
    ({"validation": "lenient"}, ["/validation"]),
    ({"template_version": "latest"}, ["/template_version"]),
    ({"template": ""}, ["/template"]),
    ({"options": {"pdf": {"pdfa": "4z"}}}, ["/options/pdf/pdfa"]),
    ({"options": {"update_indexes": "yes"}}, ["/options/update_indexes"]),
    ({"filename": 7}, ["/filename"]),
    ({"data": [], "formats": "pdf"}, ["/data", "/formats"]),
]


@pytest.mark.parametrize(("fields", "pointers"), WRONG_TYPES, ids=[json.dumps(f) for f, _ in WRONG_TYPES])
def test_malformed_render_request_names_each_field_by_json_pointer(api, fields, pointers):
    body = assert_problem(post_json(api, {"template": "invoice", "data": INVOICE_SAMPLE} | fields), 422)
    assert [e["path"] for e in body["errors"]] == pointers, body
    assert body["type"].endswith("/invalid-request") and body["title"] == "Invalid render request"


def test_unknown_request_field_is_refused_by_name(api):
    request = {"template": "invoice", "data": INVOICE_SAMPLE, "colour": "red"}
    body = assert_problem(post_json(api, request), 422)
    assert "'colour'" in body["errors"][0]["message"]


# (change to the invoice sample, the /data pointers the 422 must name)
SCHEMA_VIOLATIONS = [
    (lambda d: d["items"][0].update(quantity="two"), ["/data/items/0/quantity"]),
    (lambda d: d.update(currency="yuan"), ["/data/currency"]),
    (lambda d: d.update(items=[]), ["/data/items"]),
    (lambda d: d["buyer"].pop("name"), ["/data/buyer/name"]),
    (lambda d: (d.update(tax_rate=6), d["seller"].update(name="")), ["/data/seller/name", "/data/tax_rate"]),
]


@pytest.mark.parametrize(("change", "pointers"), SCHEMA_VIOLATIONS,
                         ids=["wrong-type", "pattern", "min-items", "required", "two-at-once"])
def test_data_breaking_the_template_schema_gets_data_pointers(api, change, pointers):
    data = json.loads(json.dumps(INVOICE_SAMPLE))
    change(data)
    body = assert_problem(post_json(api, {"template": "invoice", "data": data}), 422)
    assert sorted(e["path"] for e in body["errors"]) == pointers, body
    assert body["type"].endswith("/invalid-data")


def test_wait_that_is_not_a_number_is_400(api):
    created = post_json(api, {"template": "invoice", "data": INVOICE_SAMPLE, "formats": ["docx"]})
    assert created.status_code == 202
    job = created.get_json()
    try:
        body = assert_problem(api.get(f"/v1/renders/{job['id']}?wait=soon"), 400)
        assert body["errors"][0]["path"] == "?wait"
        missing = assert_problem(api.get(f"/v1/renders/{job['id']}/files/nothing.pdf"), 404)
        assert "nothing.pdf" in missing["detail"]
    finally:
        assert api.delete(f"/v1/renders/{job['id']}").status_code == 204


# --- limits ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_body_api(settings):
    return create_app(settings.with_(max_body=1000)).test_client()


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_body_over_the_size_limit_is_413(small_body_api, kind):
    big = {"template": "invoice", "data": {"notes": "字" * 2000}}
    if kind == "json":
        response = post_json(small_body_api, big)
    else:
        response = multipart(small_body_api, {"template": (io.BytesIO(b"x" * 5000), "t.docx"),
                                              "data": json.dumps(big["data"])})
    body = assert_problem(response, 413)
    assert "1000" in body["detail"]


def test_a_large_multipart_data_field_is_bounded_only_by_the_body_limit(settings):
    # A 600 kB `data` text field (not a file part) is well inside WENSHU_MAX_BODY: it must reach
    # validation (here: a 422 about the template), not a 413 naming some other, hidden limit.
    api = create_app(settings.with_(max_body=2_000_000)).test_client()
    data = json.dumps({"notes": "字" * 200_000})
    response = multipart(api, {"template": (io.BytesIO(b"not a zip"), "t.docx"), "data": data})
    body = assert_problem(response, 422)
    assert "zip" in body["detail"].lower() or "docx" in body["detail"].lower(), body


def test_full_queue_answers_429_with_retry_after(settings):
    # A queue no worker listens on, limited to one job: the second render must be turned away.
    api = create_app(settings.with_(max_queue=1, queue="wenshu-full-queue-test")).test_client()
    first = post_json(api, {"template": "invoice", "data": INVOICE_SAMPLE})
    assert first.status_code == 202
    try:
        second = post_json(api, {"template": "invoice", "data": INVOICE_SAMPLE})
        body = assert_problem(second, 429)
        assert int(second.headers["Retry-After"]) > 0
        assert "WENSHU_MAX_QUEUE" in body["detail"]
    finally:
        api.delete(f"/v1/renders/{first.get_json()['id']}")


def test_unreachable_redis_answers_503_without_a_stack_trace(settings):
    api = create_app(settings.with_(redis_url=f"redis://127.0.0.1:{free_port()}/0")).test_client()
    response = api.get("/v1/templates")
    body = assert_problem(response, 503)
    assert "Redis" in body["detail"]
    assert api.get("/healthz").status_code == 200
    assert_problem(api.get("/readyz"), 503)


# --- template lint --------------------------------------------------------------------------


def test_lint_of_a_broken_tag_says_where_it_is(api):
    docx = docx_with("Dear customer,", "Total: {{ order.total } yuan", "Thanks")
    response = multipart(api, {"file": (io.BytesIO(docx), "letter.docx")}, path=LINT)
    assert response.status_code == 200
    result = response.get_json()
    assert result["ok"] is False
    (problem,) = result["problems"]
    where = (problem["part"], problem["paragraph"], problem["tag"])
    assert where == ("word/document.xml", 2, "{{ order.total }")
    assert problem["message"]


def test_lint_of_a_clean_template_lists_its_variables(api):
    docx = docx_with("Dear {{ customer.name }},", "{{ total|thousands }}")
    result = multipart(api, {"file": (io.BytesIO(docx), "letter.docx")}, path=LINT).get_json()
    assert (result["ok"], result["variables"], result["problems"]) == (True, ["customer", "total"], [])
    assert result["variable_paths"] == ["customer", "customer.name", "total"]


# --- authentication -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed_api(settings):
    return create_app(settings.with_(api_keys=("k1",))).test_client()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer k1x", "Bearer ", "Basic k1", "k1"],
                         ids=["none", "wrong-key", "key-prefix", "empty-bearer", "basic-scheme", "bare-key"])
def test_request_without_a_valid_key_is_401(keyed_api, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = keyed_api.get("/v1/templates", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_render_without_key_is_401_before_anything_else(keyed_api):
    response = keyed_api.post("/v1/renders", data="{broken", content_type="application/json")
    assert_problem(response, 401)


def test_request_with_the_key_is_served(keyed_api):
    response = keyed_api.get("/v1/templates", headers={"Authorization": "Bearer k1"})
    assert response.status_code == 200
    assert "invoice" in [t["name"] for t in response.get_json()]


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/openapi.json", "/docs"])
def test_health_metrics_and_docs_stay_open(keyed_api, path):
    assert keyed_api.get(path).status_code == 200


def test_production_refuses_to_start_without_keys():
    with pytest.raises(ConfigError, match="WENSHU_API_KEYS"):
        Settings(env="production").validate()
    with pytest.raises(ConfigError, match="WENSHU_API_KEYS"):
        Settings.from_env({"WENSHU_ENV": "production"})
    keyed = Settings.from_env({"WENSHU_ENV": "production", "WENSHU_API_KEYS": "k1, k2"})
    assert keyed.api_keys == ("k1", "k2")


# --- the contract document -----------------------------------------------------------------


def test_openapi_is_served_and_documents_every_route(api, app):
    served = api.get("/openapi.json")
    assert served.status_code == 200 and served.get_json() == OPENAPI
    assert OPENAPI["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in OPENAPI["paths"].items()
                  for method in item if method in ("get", "put", "post", "delete", "patch")}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in service/openapi.json"


def test_openapi_error_responses_are_all_problem_json():
    responses = OPENAPI["components"]["responses"]
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")) or code == "default":
                    target = responses[response["$ref"].rsplit("/", 1)[1]]
                    assert list(target["content"]) == ["application/problem+json"], (method, path, code)
            secured = operation.get("security", OPENAPI["security"])
            assert (secured == []) == path.startswith(OPEN_PATHS), (method, path)
            if secured:
                assert "401" in operation["responses"], (method, path)


def _narrows(documented, validator) -> bool:
    """Every constraint of ``validator`` is in ``documented`` (which may add types and descriptions)."""
    if isinstance(validator, dict):
        return isinstance(documented, dict) and all(
            key in documented and _narrows(documented[key], value) for key, value in validator.items())
    return documented == validator


def test_openapi_render_request_matches_the_validator():
    documented = OPENAPI["components"]["schemas"]["RenderRequest"]
    expected = {k: v for k, v in RENDER_REQUEST_SCHEMA.items() if k != "$schema"}
    assert _narrows(documented, expected)
    assert documented["properties"].keys() == expected["properties"].keys()
