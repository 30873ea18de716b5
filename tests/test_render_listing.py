"""``GET /v1/renders``: the caller's own renders, newest first, filtered, paged by cursor.

An API with two bearer keys on the session's Redis, served by the session's real worker. Key A
makes four renders (three invoices, one ad-hoc document); key B makes none.
"""

from __future__ import annotations

import io
import json

import pytest
from keyed_api import keyed_api

from helpers import assert_problem, docx_with

pytestmark = pytest.mark.e2e

KEY_A, KEY_B = "list-key-a-0123456789", "list-key-b-0123456789"

keyed_app, as_key = keyed_api(KEY_A, KEY_B)


@pytest.fixture(scope="module")
def made(keyed_app) -> list[str]:
    """Ids of key A's renders, oldest first: three invoices, then one ad-hoc document."""
    api = as_key(keyed_app)
    sample = api.get("/v1/templates/invoice/sample").get_json()
    ids = []
    for i in range(3):
        response = api.post("/v1/renders?wait=60", json={"template": "invoice", "formats": ["docx"], "cache": False,
                                                         "data": dict(sample, invoice_no=f"LIST-{i}")})
        assert response.get_json()["status"] == "finished", response.get_json()
        ids.append(response.get_json()["id"])
    parts = {"template": (io.BytesIO(docx_with("Hello {{ who }}")), "t.docx"), "data": json.dumps({"who": "you"}),
             "options": json.dumps({"formats": ["docx"], "template": "greeting"})}
    response = api.post("/v1/renders?wait=60", data=parts, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    ids.append(response.get_json()["id"])
    return ids


def listing(api, query: str = "") -> dict:
    response = api.get("/v1/renders" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_newest_first_in_pages_without_repeats(keyed_app, made):
    api = as_key(keyed_app)
    seen, cursor = [], None
    for _ in range(5):
        page = listing(api, "?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= 3
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))


def test_filtered_by_template_and_status(keyed_app, made):
    api = as_key(keyed_app)
    invoices = listing(api, "?template=invoice&status=finished")["items"]
    assert [job["id"] for job in invoices] == list(reversed(made[:3]))
    assert [job["id"] for job in listing(api, "?template=greeting")["items"]] == [made[3]]
    assert listing(api, "?status=failed")["items"] == []


def test_another_api_key_sees_none_of_them(keyed_app, made):
    assert listing(as_key(keyed_app, KEY_B)) == {"items": [], "next_cursor": None}


def test_a_deleted_render_leaves_the_listing(keyed_app, made):
    api = as_key(keyed_app)
    sample = api.get("/v1/templates/invoice/sample").get_json()
    job = api.post("/v1/renders", json={"template": "invoice", "formats": ["docx"],
                                        "data": dict(sample, invoice_no="LIST-GONE")}).get_json()
    assert listing(api, "?limit=1")["items"][0]["id"] == job["id"]
    assert api.delete(f"/v1/renders/{job['id']}").status_code == 204
    assert job["id"] not in [j["id"] for j in listing(api, "?limit=100")["items"]]


@pytest.mark.parametrize(("query", "where"), [
    ("?limit=0", "?limit"), ("?limit=101", "?limit"), ("?limit=ten", "?limit"), ("?limit=-1", "?limit"),
    ("?status=done", "?status"), ("?template=" + "t" * 65, "?template"),
    ("?cursor=abc", "?cursor"), ("?cursor=1-" + "g" * 32, "?cursor"),
    ("?cursor=" + "9" * 30 + "-" + "a" * 32, "?cursor"),
])
def test_a_bad_query_is_refused_naming_the_parameter(keyed_app, query, where):
    problem = assert_problem(as_key(keyed_app).get("/v1/renders" + query), 400)
    assert problem["errors"][0]["path"] == where


def test_listing_needs_the_api_key(keyed_app):
    assert_problem(keyed_app.test_client().get("/v1/renders"), 401)
