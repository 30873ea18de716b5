"""Template authors' journeys through ``/v1/templates``: upload, version, inspect, download, delete."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT

from core.formats import FORMATS
from core.settings import PROJECT_ROOT
from helpers import assert_problem, pdf_text, put_template, squash
from service.registry import bundle_version

TEMPLATES_DIR = PROJECT_ROOT / "templates"
BUNDLED = sorted(p.parent.name for p in TEMPLATES_DIR.glob("*/template.docx"))
SCHEMA = {"type": "object", "required": ["who"], "properties": {"who": {"type": "string", "minLength": 1}}}


def docx_with(*paragraphs: str, external_image: str | None = None) -> bytes:
    """A .docx whose body holds one paragraph per string, optionally linking an external image."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if external_image:
        document.part.relate_to(external_image, RT.IMAGE, is_external=True)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def folder_json(path: str):
    """A JSON file of the bundled templates folder."""
    return json.loads((TEMPLATES_DIR / path).read_text(encoding="utf-8"))


def version_of(docx: bytes, name: str, schema=None, rules=None, sample=None, meta=None) -> str:
    """The version the registry gives a bundle uploaded with these parts (defaults as it fills them)."""
    meta = meta or {}
    return bundle_version(docx, {"schema": schema, "rules": rules or [], "sample": sample,
                                 "title": meta.get("title") or name, "formats": meta.get("formats") or list(FORMATS)})


def folder_version(name: str) -> str:
    """The version of a bundled template's folder, as seeding stores it."""
    folder = TEMPLATES_DIR / name
    load = lambda n: folder_json(f"{name}/{n}") if (folder / n).exists() else None  # noqa: E731
    return version_of((folder / "template.docx").read_bytes(), name, load("schema.json"), load("rules.json"),
                      load("sample.json"), load("meta.json"))


@pytest.fixture()
def api(app):
    return app.test_client()


@pytest.fixture()
def name() -> str:
    """A fresh template name: the session's Redis is shared by every test."""
    return f"letter-{uuid.uuid4().hex[:8]}"


# --- discovering templates --------------------------------------------------------------------


def test_bundled_templates_are_listed_from_the_first_start(api):
    assert "invoice" in BUNDLED
    listed = {t["name"]: t for t in api.get("/v1/templates").get_json()}
    assert set(BUNDLED) <= listed.keys()
    for name in BUNDLED:
        entry = listed[name]
        assert set(entry) >= {"name", "version", "title", "formats"}
        assert entry["version"] == folder_version(name)
        assert set(entry["formats"]) <= {"pdf", "docx", "odt"} and entry["formats"]
    assert listed["invoice"]["title"] == folder_json("invoice/meta.json")["title"]


def test_template_description_has_versions_variables_schema_and_rules(api):
    described = api.get("/v1/templates/invoice").get_json()
    assert described["name"] == "invoice"
    assert described["versions"] == [described["version"]]
    assert {"invoice_no", "buyer", "items", "total"} <= set(described["variables"])
    assert described["schema"] == folder_json("invoice/schema.json")
    assert described["rules"] == []


@pytest.mark.parametrize("name", [n for n in BUNDLED if (TEMPLATES_DIR / n / "rules.json").exists()])
def test_bundled_rules_are_described(api, name):
    described = api.get(f"/v1/templates/{name}").get_json()
    rules = folder_json(f"{name}/rules.json")
    assert [r["id"] for r in described["rules"]] == [r["id"] for r in rules]


def test_bundled_sample_is_the_folders_sample(api):
    response = api.get("/v1/templates/invoice/sample")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == folder_json("invoice/sample.json")


def test_bundled_file_is_the_exact_docx(api):
    response = api.get("/v1/templates/invoice/file")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert response.data == (TEMPLATES_DIR / "invoice/template.docx").read_bytes()


# --- uploading and versioning -------------------------------------------------------------------


def test_upload_creates_a_version_addressed_by_docx_and_contract(api, name):
    docx = docx_with("Dear {{ who }},")
    response = put_template(api, name, docx, schema=SCHEMA, sample={"who": "Li"})
    assert response.status_code == 201
    version = version_of(docx, name, SCHEMA, sample={"who": "Li"})
    assert response.get_json()["name"] == name
    assert response.get_json()["version"] == version
    assert response.headers["Location"] == f"/v1/templates/{name}"
    described = api.get(f"/v1/templates/{name}").get_json()
    assert (described["version"], described["versions"]) == (version, [version])
    assert described["variables"] == ["who"] and described["schema"] == SCHEMA
    assert name in [t["name"] for t in api.get("/v1/templates").get_json()]


def test_uploading_the_same_bytes_again_changes_nothing(api, name):
    docx = docx_with("Dear {{ who }},")
    first = put_template(api, name, docx)
    again = put_template(api, name, docx)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["version"] == first.get_json()["version"]
    assert api.get(f"/v1/templates/{name}").get_json()["versions"] == [version_of(docx, name)]


def test_changed_bytes_add_a_version_that_becomes_the_latest(api, name):
    v1, v2 = docx_with("Version one {{ who }}"), docx_with("Version two {{ who }}")
    assert put_template(api, name, v1).status_code == 201
    assert put_template(api, name, v2).status_code == 201
    described = api.get(f"/v1/templates/{name}").get_json()
    assert described["versions"] == [version_of(v1, name), version_of(v2, name)]
    assert described["version"] == version_of(v2, name)
    assert api.get(f"/v1/templates/{name}/file").data == v2
    assert api.get(f"/v1/templates/{name}/file?version={version_of(v1, name)}").data == v1


@pytest.mark.e2e
def test_renders_use_the_latest_version_unless_one_is_pinned(client, name):
    v1, v2 = docx_with("Version one for {{ who }}"), docx_with("Version two for {{ who }}")
    put_template(client, name, v1)
    put_template(client, name, v2)
    for pinned, expected in ((None, "Versiontwofor"), (version_of(v1, name), "Versiononefor")):
        body = {"template": name, "data": {"who": "王五"}} | ({"template_version": pinned} if pinned else {})
        doc = client.post("/v1/renders?wait=60", json=body).get_json()
        assert doc["status"] == "finished", doc
        assert doc["template"] == {"name": name, "version": pinned or version_of(v2, name)}
        text = squash(pdf_text(client.get(doc["files"][0]["url"]).data))
        assert expected + "王五" in text


def test_uploaded_schema_guards_renders(api, name):
    put_template(api, name, docx_with("Dear {{ who }},"), schema=SCHEMA)
    response = api.post("/v1/renders", json={"template": name, "data": {"who": 42}})
    body = assert_problem(response, 422)
    assert [e["path"] for e in body["errors"]] == ["/data/who"]


def test_sample_of_an_upload_is_returned(api, name):
    put_template(api, name, docx_with("Dear {{ who }},"), schema=SCHEMA, sample={"who": "赵六"})
    assert api.get(f"/v1/templates/{name}/sample").get_json() == {"who": "赵六"}


def test_upload_without_sample_has_no_sample(api, name):
    put_template(api, name, docx_with("Dear {{ who }},"))
    assert_problem(api.get(f"/v1/templates/{name}/sample"), 404)


# --- deleting -------------------------------------------------------------------------------------


def test_deleted_template_is_gone_everywhere(api, name):
    put_template(api, name, docx_with("Dear {{ who }},"))
    assert api.delete(f"/v1/templates/{name}").status_code == 204
    for path in (f"/v1/templates/{name}", f"/v1/templates/{name}/file", f"/v1/templates/{name}/sample"):
        assert_problem(api.get(path), 404)
    assert_problem(api.post("/v1/renders", json={"template": name, "data": {}}), 404)
    assert name not in [t["name"] for t in api.get("/v1/templates").get_json()]
    assert_problem(api.delete(f"/v1/templates/{name}"), 404)


def test_bundled_template_cannot_be_deleted(api):
    body = assert_problem(api.delete("/v1/templates/invoice"), 409)
    assert "invoice" in body["detail"]
    assert api.get("/v1/templates/invoice").status_code == 200


# --- refused uploads ---------------------------------------------------------------------------------


def test_hostile_docx_is_refused_naming_the_part(api, name):
    response = put_template(api, name, docx_with("Hello", external_image="file:///etc/passwd"))
    body = assert_problem(response, 422)
    (finding,) = body["errors"]
    assert finding["part"] == "word/_rels/document.xml.rels"
    assert "file:///etc/passwd" in finding["message"]
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


def test_broken_tag_is_refused_listing_part_and_paragraph(api, name):
    response = put_template(api, name, docx_with("Dear {{ who }},", "Total: {{ order.total } yuan"))
    body = assert_problem(response, 422)
    assert [(e["part"], e["paragraph"], e["tag"]) for e in body["errors"]] == [
        ("word/document.xml", 2, "{{ order.total }")]
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


def test_upload_without_a_file_part_is_400(api, name):
    response = api.put(f"/v1/templates/{name}", data={"schema": "{}"}, content_type="multipart/form-data")
    assert assert_problem(response, 400)["errors"][0]["path"] == "file"


def test_a_table_without_a_column_grid_is_refused_at_upload_naming_its_paragraph(api, name):
    """Word always writes w:tblGrid; without it docxtpl failed every render with a bare AttributeError."""
    document = Document()
    document.add_paragraph("名单")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "{{ who }}", "签名"
    grid = table._tbl.tblGrid
    grid.getparent().remove(grid)
    out = io.BytesIO()
    document.save(out)
    body = assert_problem(put_template(api, name, out.getvalue()), 422)
    assert [(e["part"], e["paragraph"]) for e in body["errors"]] == [("word/document.xml", 2)]
    assert "w:tblGrid" in body["errors"][0]["message"]
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


# (what is wrong with the upload, the parts, the pointer the 422 names)
BAD_CONTRACTS = [
    ("schema-not-json-schema", {"schema": {"type": "no-such-type"}}, "schema/type"),
    ("schema-not-an-object", {"schema": ["who"]}, "schema"),
    ("sample-breaks-schema", {"schema": SCHEMA, "sample": {"who": ""}}, "/sample/who"),
]


@pytest.mark.parametrize(("parts", "path"), [c[1:] for c in BAD_CONTRACTS], ids=[c[0] for c in BAD_CONTRACTS])
def test_upload_with_a_broken_contract_is_422(api, name, parts, path):
    body = assert_problem(put_template(api, name, docx_with("Dear {{ who }},"), **parts), 422)
    assert body["errors"][0]["path"] == path
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


# (a meta part that is not what the contract says, the status, the pointer named)
BAD_META = [
    ("meta-not-an-object", True, 400, "meta"),
    ("meta-a-list", ["title"], 400, "meta"),
    ("title-not-a-string", {"title": 5}, 422, "meta/title"),
    ("title-too-long", {"title": "长" * 201}, 422, "meta/title"),
    ("formats-a-string", {"formats": "pdf"}, 422, "meta/formats"),
    ("formats-unknown", {"formats": ["pdf", "xls"]}, 422, "meta/formats"),
]


@pytest.mark.parametrize(("meta", "status", "path"), [c[1:] for c in BAD_META], ids=[c[0] for c in BAD_META])
def test_upload_with_a_malformed_meta_part_names_it(api, name, meta, status, path):
    body = assert_problem(put_template(api, name, docx_with("Dear {{ who }},"), meta=meta), status)
    assert body["errors"][0]["path"] == path
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


@pytest.mark.parametrize("bad", ["Letter", "-letter", "has_UPPER", "x" * 65, "信函", "a b"])
def test_bad_template_name_is_422(api, bad):
    body = assert_problem(put_template(api, bad, docx_with("Hi")), 422)
    assert body["errors"] == [{"path": "name", "message": "invalid template name"}]
