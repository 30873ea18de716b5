"""Template versions never go backwards: seeding, several API processes, whole-bundle versions.

Every test here that touches a bundled name gets a Redis of its own, because what it checks is
which version ``latest`` points at after seeding and uploads, which the session's shared Redis
cannot keep still. API processes are ``create_app`` instances (each with its own Redis client,
registry and "seeded" flag, as separate processes have) or real ``wenshu seed`` subprocesses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from redis import Redis

from conftest import private_redis, start_redis, worker_env
from core.keys import Keys
from core.settings import PROJECT_ROOT
from helpers import docx_with, free_port, put_template

TEMPLATES_DIR = PROJECT_ROOT / "templates"
BUNDLED = sorted(p.parent.name for p in TEMPLATES_DIR.glob("*/template.docx"))
SCHEMA = {"type": "object", "required": ["who"], "properties": {"who": {"type": "string", "minLength": 1}}}
SCHEMA_V2 = {"type": "object", "required": ["who"], "properties": {"who": {"type": "string", "minLength": 3}}}
RULE = {"id": "who-named", "message": "需要姓名", "message_en": "who must be named", "assert": "who != ''"}


def described(api, name: str) -> dict:
    response = api.get(f"/v1/templates/{name}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def api_process(settings):
    """One API process's view: its own app, Redis client and registry."""
    from service.app import create_app

    return create_app(settings).test_client()


def release(tmp_path: Path, tag: str, names: dict[str, str], schema_note: str | None = None) -> Path:
    """A bundled-templates folder as some release ships it: ``names`` maps new name → bundled source;
    ``schema_note`` (when given) changes every schema, as a release that edits its contract does."""
    folder = tmp_path / tag
    for name, source in names.items():
        shutil.copytree(TEMPLATES_DIR / source, folder / name)
        if schema_note:
            schema_path = folder / name / "schema.json"
            schema = json.loads(schema_path.read_text(encoding="utf-8"))
            schema_path.write_text(json.dumps(schema | {"description": schema_note}, ensure_ascii=False),
                                   encoding="utf-8")
    return folder


@pytest.fixture()
def own_redis(tmp_path_factory, settings):
    with private_redis(tmp_path_factory, settings, f"ver-{uuid.uuid4().hex[:8]}") as private:
        yield private


@pytest.fixture()
def api(app):
    return app.test_client()


# --- several API processes on one Redis ----------------------------------------------------------


def test_an_upload_to_a_bundled_name_stays_latest_when_another_api_process_starts(own_redis):
    first = api_process(own_redis)
    bundled = described(first, "invoice")["version"]
    upload = put_template(first, "invoice", docx_with("My own invoice for {{ buyer }}"))
    assert upload.status_code == 201
    mine = upload.get_json()["version"]

    second = api_process(own_redis)  # seeds at start-up, as every API process does
    for api in (second, first):
        desc = described(api, "invoice")
        assert desc["version"] == mine
        assert desc["versions"] == [bundled, mine]
        assert api.get("/v1/templates/invoice/file").data.startswith(b"PK")
        listed = {t["name"]: t["version"] for t in api.get("/v1/templates").get_json()}
        assert listed["invoice"] == mine


def test_processes_that_started_without_redis_seed_on_first_use_and_keep_an_upload_latest(tmp_path, settings):
    port = free_port()
    down = settings.with_(redis_url=f"redis://127.0.0.1:{port}/0", key_prefix="late", queue="late")
    early, late = api_process(down), api_process(down)  # Redis is not there yet: seeding waits
    proc, _ = start_redis(tmp_path, port)
    try:
        listed = {t["name"] for t in early.get("/v1/templates").get_json()}
        assert set(BUNDLED) <= listed  # the first request that reached Redis seeded
        mine = put_template(early, "invoice", docx_with("Uploaded {{ buyer }}")).get_json()["version"]
        assert described(late, "invoice")["version"] == mine  # late's own first-use seeding kept it
    finally:
        proc.terminate()
        proc.wait(5)


def test_two_seed_commands_at_once_store_each_bundled_version_once(own_redis):
    env = worker_env(own_redis)
    runs = [subprocess.Popen([sys.executable, "-m", "cli.main", "seed"], env=env, cwd=PROJECT_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err.decode() for _, err in outputs]
    reports = [{row["name"]: row for row in json.loads(out)} for out, _ in outputs]
    assert set(reports[0]) == set(reports[1]) == set(BUNDLED)
    redis, keys = Redis.from_url(own_redis.redis_url), Keys(own_redis.key_prefix)
    for name in BUNDLED:
        first, second = reports[0][name], reports[1][name]
        assert first["version"] == second["version"]
        assert [first["created"], second["created"]].count(True) == 1  # exactly one stored it
        assert first["latest"] and second["latest"]
        assert [v.decode() for v in redis.lrange(keys.versions(name), 0, -1)] == [first["version"]]

    again = subprocess.run([sys.executable, "-m", "cli.main", "seed"], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, check=True)
    assert not any(row["created"] for row in json.loads(again.stdout))


# --- bundled releases ------------------------------------------------------------------------------


def test_a_newer_bundled_release_upgrades_a_bundled_latest_but_never_an_upload(own_redis, tmp_path):
    names = {"invoice": "invoice", "receipt": "invoice"}
    old = own_redis.with_(templates_dir=release(tmp_path, "r1", names))
    api = api_process(old)
    invoice_v1, receipt_v1 = described(api, "invoice")["version"], described(api, "receipt")["version"]
    mine = put_template(api, "receipt", docx_with("Our receipt for {{ buyer }}")).get_json()["version"]

    api = api_process(own_redis.with_(templates_dir=release(tmp_path, "r2", names, schema_note="release 2")))
    invoice = described(api, "invoice")
    assert invoice["version"] != invoice_v1 and invoice["versions"] == [invoice_v1, invoice["version"]]
    assert invoice["schema"]["description"] == "release 2"  # the new release's contract is in force
    receipt = described(api, "receipt")
    assert receipt["version"] == mine
    assert receipt["versions"][:2] == [receipt_v1, mine] and len(receipt["versions"]) == 3  # stored, pinnable

    api = api_process(old)  # a replica still on release 1 restarts during the rolling deploy
    assert described(api, "invoice")["version"] == invoice["version"]  # latest never goes back
    assert described(api, "receipt")["version"] == mine


def test_versions_stored_under_the_old_key_layout_are_still_served(own_redis):
    redis, keys = Redis.from_url(own_redis.redis_url), Keys(own_redis.key_prefix)
    docx, version = docx_with("Legacy {{ who }}"), "0123456789ab"
    meta = {"name": "legacy", "title": "legacy", "formats": ["pdf"], "variables": ["who"], "bundled": False,
            "created_at": "2024-01-01T00:00:00.000Z"}
    redis.hset(keys.legacy_template("legacy", version), mapping={
        "docx": docx, "schema": "null", "rules": "[]", "sample": json.dumps({"who": "旧"}), "meta": json.dumps(meta)})
    redis.rpush(keys.versions("legacy"), version)
    redis.hset(keys.templates, "legacy", json.dumps(meta | {"version": version}))

    api = api_process(own_redis)  # start-up seeding moves them to the current layout
    assert api.get(f"/v1/templates/legacy/file?version={version}").data == docx
    assert api.get("/v1/templates/legacy/sample").get_json() == {"who": "旧"}


# --- a version is the whole bundle --------------------------------------------------------------


@pytest.mark.parametrize(("changed", "first", "second"), [
    ("schema", {"schema": SCHEMA}, {"schema": SCHEMA_V2}),
    ("rules", {"rules": []}, {"rules": [RULE]}),
    ("sample", {"sample": {"who": "李"}}, {"sample": {"who": "王"}}),
    ("title", {"meta": {"title": "信函"}}, {"meta": {"title": "Letter"}}),
    ("formats", {"meta": {"formats": ["pdf"]}}, {"meta": {"formats": ["pdf", "docx"]}}),
])
def test_the_same_docx_with_a_changed_contract_is_a_new_version(api, changed, first, second):
    name = f"letter-{uuid.uuid4().hex[:8]}"
    docx = docx_with("Dear {{ who }},")
    one, two = put_template(api, name, docx, **first), put_template(api, name, docx, **second)
    assert (one.status_code, two.status_code) == (201, 201), two.get_data(as_text=True)
    assert two.get_json()["created"] is True
    assert one.get_json()["version"] != two.get_json()["version"]
    desc = described(api, name)
    assert desc["versions"] == [one.get_json()["version"], two.get_json()["version"]]
    assert desc["version"] == two.get_json()["version"]


def test_a_new_schema_for_the_same_docx_is_the_one_renders_are_checked_against(api):
    name = f"letter-{uuid.uuid4().hex[:8]}"
    docx = docx_with("Dear {{ who }},")
    old = put_template(api, name, docx, schema=SCHEMA).get_json()["version"]
    assert put_template(api, name, docx, schema=SCHEMA_V2).status_code == 201
    assert described(api, name)["schema"] == SCHEMA_V2

    refused = api.post("/v1/renders", json={"template": name, "data": {"who": "李四"}})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert [e["path"] for e in refused.get_json()["errors"]] == ["/data/who"]

    pinned = api.post("/v1/renders", json={"template": name, "template_version": old, "data": {"who": "李四"}})
    assert pinned.status_code == 202, pinned.get_data(as_text=True)
    assert pinned.get_json()["template"] == {"name": name, "version": old}
    assert api.delete(pinned.headers["Location"]).status_code == 204  # nothing left in the shared queue


def test_an_identical_bundle_is_a_no_op_whatever_the_json_key_order(api):
    name = f"letter-{uuid.uuid4().hex[:8]}"
    docx = docx_with("Dear {{ who }},")
    reordered = {"properties": SCHEMA["properties"], "required": ["who"], "type": "object"}
    first = put_template(api, name, docx, schema=SCHEMA, sample={"who": "李"}, meta={"title": "信函"})
    again = put_template(api, name, docx, schema=reordered, sample={"who": "李"}, meta={"title": "信函"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == {"name": name, "version": first.get_json()["version"], "created": False,
                                "warnings": []}
    assert described(api, name)["versions"] == [first.get_json()["version"]]


def test_uploading_an_older_version_again_does_not_make_it_latest(api):
    name = f"letter-{uuid.uuid4().hex[:8]}"
    v1, v2 = docx_with("One {{ who }}"), docx_with("Two {{ who }}")
    first, second = put_template(api, name, v1).get_json()["version"], put_template(api, name, v2).get_json()["version"]
    assert put_template(api, name, v1).status_code == 200
    desc = described(api, name)
    assert (desc["version"], desc["versions"]) == (second, [first, second])
    assert api.get(f"/v1/templates/{name}/file").data == v2


# --- ?version= that is not a version --------------------------------------------------------------


@pytest.mark.parametrize("path", ["file", "sample"])
@pytest.mark.parametrize("version", ["versions", "v:0123456789ab", "../invoice", "ABCDEF012345", ""])
def test_a_version_query_that_is_not_a_version_is_404_naming_the_query(api, path, version):
    response = api.get(f"/v1/templates/invoice/{path}", query_string={"version": version})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == [{"path": "?version",
                                              "message": "not a version: expected 12 hex digits"}]


@pytest.mark.parametrize("path", ["file", "sample"])
def test_an_unknown_version_is_404_naming_the_query(api, path):
    response = api.get(f"/v1/templates/invoice/{path}?version=0123456789ab")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == [{"path": "?version", "message": "unknown version"}]


def test_a_render_pinned_to_a_non_version_is_refused_before_anything_is_looked_up(api):
    response = api.post("/v1/renders", json={"template": "invoice", "template_version": "versions", "data": {}})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert [e["path"] for e in response.get_json()["errors"]] == ["/template_version"]
