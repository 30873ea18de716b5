"""Page images of a finished render and the visual diff of two renders, through the real queue."""

from __future__ import annotations

import io
import json

import pytest
from docx import Document
from PIL import Image

from helpers import assert_problem, docx_with

pytestmark = pytest.mark.e2e
TEMPLATE = docx_with("Offer for {{ name }}", "Salary: {{ salary }}")


def render(client, data: dict, formats=("pdf",)) -> str:
    parts = {"template": (io.BytesIO(TEMPLATE), "t.docx"), "data": json.dumps(data),
             "options": json.dumps({"formats": list(formats)})}
    response = client.post("/v1/renders?wait=60", data=parts, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "finished", response.json
    return response.json["id"]


@pytest.fixture(scope="module")
def jobs(app, workers):
    client = app.test_client()
    return {"a": render(client, {"name": "Li Lei", "salary": "8000"}),
            "a2": render(client, {"name": "Li Lei", "salary": "8000"}),
            "b": render(client, {"name": "Li Lei", "salary": "9500 per month"}),
            "docx": render(client, {"name": "x", "salary": "y"}, formats=("docx",))}


def test_finished_render_lists_its_page_images(client, jobs):
    body = client.get(f"/v1/renders/{jobs['a']}/pages").json
    assert body["count"] == 1 and body["pages"] == [f"/v1/renders/{jobs['a']}/pages/1.png"]


def test_page_image_is_a_bounded_png(client, jobs):
    response = client.get(f"/v1/renders/{jobs['a']}/pages/1.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert max(image.size) == 1000 and image.height > image.width  # an A4/Letter page, portrait


def test_page_past_the_last_is_404_naming_the_page_count(client, jobs):
    body = assert_problem(client.get(f"/v1/renders/{jobs['a']}/pages/2.png"), 404)
    assert "1 page" in body["detail"]


def test_render_without_a_pdf_has_no_pages(client, jobs):
    body = assert_problem(client.get(f"/v1/renders/{jobs['docx']}/pages"), 422)
    assert "pdf" in body["detail"]


def test_unknown_render_has_no_pages(client):
    assert_problem(client.get("/v1/renders/" + "0" * 32 + "/pages/1.png"), 404)
    assert_problem(client.get("/v1/renders/..%2F..%2Fetc/pages"), 404)


def test_same_data_same_template_shows_no_change(client, jobs):
    body = client.get(f"/v1/renders/{jobs['a']}/compare/{jobs['a2']}").json
    assert body["changed"] is False and body["pages"][0]["regions"] == []


def test_changed_value_is_one_boxed_region(client, jobs):
    body = client.get(f"/v1/renders/{jobs['a']}/compare/{jobs['b']}").json
    assert body["changed"] is True
    (page,) = body["pages"]
    assert len(page["regions"]) == 1, page
    x0, y0, x1, y1 = page["regions"][0]
    image = client.get(page["image"])
    assert image.mimetype == "image/png"
    drawn = Image.open(io.BytesIO(image.data)).convert("RGB")
    red = drawn.getpixel((max(0, x0 - 2), (y0 + y1) // 2))
    assert red[0] > 180 and red[1] < 80, red


def test_pages_of_an_unfinished_render_are_409_saying_so(settings, tmp_path_factory):
    from conftest import private_redis
    from service.app import create_app

    with private_redis(tmp_path_factory, settings, "pages-idle") as idle:  # no worker serves this queue
        api = create_app(idle).test_client()
        parts = {"template": (io.BytesIO(TEMPLATE), "t.docx"), "data": json.dumps({"name": "x", "salary": "1"})}
        job = api.post("/v1/renders", data=parts, content_type="multipart/form-data").json["id"]
        body = assert_problem(api.get(f"/v1/renders/{job}/pages/1.png"), 409)
        assert "queued" in body["detail"]
        assert_problem(api.get(f"/v1/renders/{job}/compare/{job}"), 409)


def test_a_page_only_one_version_has_is_all_change(client, jobs):
    two_pages = docx_with("Offer for {{ name }}", "Salary: {{ salary }}")
    document = Document(io.BytesIO(two_pages))
    document.add_page_break()
    document.add_paragraph("Annex: {{ name }}")
    out = io.BytesIO()
    document.save(out)
    parts = {"template": (io.BytesIO(out.getvalue()), "t2.docx"),
             "data": json.dumps({"name": "Li Lei", "salary": "8000"})}
    longer = client.post("/v1/renders?wait=60", data=parts, content_type="multipart/form-data").json["id"]
    body = client.get(f"/v1/renders/{jobs['a']}/compare/{longer}").json
    assert (body["from_pages"], body["to_pages"], body["changed"]) == (1, 2, True)
    assert [p["changed"] for p in body["pages"]] == [False, True]
    assert client.get(body["pages"][1]["image"]).mimetype == "image/png"
    assert_problem(client.get(f"/v1/renders/{jobs['a']}/compare/{longer}/pages/3.png"), 404)


@pytest.mark.parametrize("path", [
    "/v1/renders/{a}/pages/0.png", "/v1/renders/{a}/pages/99999999999999999999999.png",
    "/v1/renders/{a}/compare/{a}/pages/0.png", "/v1/renders/{a}/compare/..%2f{a}",
    "/v1/renders/%3Cscript%3E/pages", "/v1/renders/{a}/compare/%00",
])
def test_hostile_page_and_job_paths_are_404(client, jobs, path):
    body = assert_problem(client.get(path.format(a=jobs["a"])), 404)
    assert "<script>" not in body["detail"] or body["detail"].startswith("no render")
