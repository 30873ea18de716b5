"""The render cache: the same request again gets a new job with the earlier job's files, at once.

An API with two bearer keys on the session's Redis, served by the session's real worker. Each
test renders its own invoice number, so one test's cache entries never serve another's.
"""

from __future__ import annotations

import re

import pytest
from keyed_api import keyed_api

from helpers import pdf_text

pytestmark = pytest.mark.e2e

KEY_A, KEY_B = "cache-key-a-0123456789", "cache-key-b-0123456789"
keyed_app, as_key = keyed_api(KEY_A, KEY_B, render_cache=True)


@pytest.fixture(scope="module")
def sample(keyed_app) -> dict:
    return as_key(keyed_app).get("/v1/templates/invoice/sample").get_json()


def body(sample: dict, number: str, formats=("docx",), **extra) -> dict:
    return {"template": "invoice", "formats": list(formats), "data": dict(sample, invoice_no=number)} | extra


def finished(api, request: dict) -> dict:
    response = api.post("/v1/renders?wait=60", json=request)
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    return doc


def hits(api) -> float:
    text = api.get("/metrics").get_data(as_text=True)
    match = re.search(r'^wenshu_render_cache_lookups_total\{result="hit"\} (\S+)$', text, re.M)
    return float(match[1]) if match else 0.0


def test_an_identical_request_reuses_the_finished_files(keyed_app, sample):
    api = as_key(keyed_app)
    request = body(sample, "CACHE-1", formats=("pdf", "docx"))
    first = finished(api, request)
    before = hits(api)
    again = finished(api, request)
    assert again["id"] != first["id"] and again["cached_from"] == first["id"]
    assert [(f["name"], f["sha256"]) for f in again["files"]] == [(f["name"], f["sha256"]) for f in first["files"]]
    pdf = api.get(again["files"][0]["url"])
    assert pdf.status_code == 200 and "CACHE-1" in pdf_text(pdf.get_data())
    assert again["files"][0]["url"].startswith(f"/v1/renders/{again['id']}/")
    assert hits(api) == before + 1
    assert first["cached_from"] is None


def test_cache_false_renders_anew(keyed_app, sample):
    api = as_key(keyed_app)
    first = finished(api, body(sample, "CACHE-2"))
    again = finished(api, body(sample, "CACHE-2", cache=False))
    assert again["cached_from"] is None and "render" in again["timings_ms"] and again["id"] != first["id"]


def test_other_data_is_rendered(keyed_app, sample):
    api = as_key(keyed_app)
    finished(api, body(sample, "CACHE-3"))
    assert finished(api, body(sample, "CACHE-3x"))["cached_from"] is None
    assert finished(api, body(sample, "CACHE-3", filename="other-name"))["cached_from"] is None


def test_another_api_key_never_gets_a_hit(keyed_app, sample):
    finished(as_key(keyed_app, KEY_A), body(sample, "CACHE-4"))
    assert finished(as_key(keyed_app, KEY_B), body(sample, "CACHE-4"))["cached_from"] is None


def test_deleting_the_original_keeps_the_copy_and_ends_reuse(keyed_app, sample):
    api = as_key(keyed_app)
    first = finished(api, body(sample, "CACHE-5"))
    copy = finished(api, body(sample, "CACHE-5"))
    assert copy["cached_from"] == first["id"]
    assert api.delete(f"/v1/renders/{first['id']}").status_code == 204
    assert api.get(copy["files"][0]["url"]).status_code == 200
    assert finished(api, body(sample, "CACHE-5"))["cached_from"] is None
