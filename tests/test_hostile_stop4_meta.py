"""Hostile ``meta`` parts of a template upload (service/templates_api.py, validated this stop).

Every meta that is not an object with a short string title and known formats is a 4xx problem
naming meta (or meta/title, meta/formats), and nothing is stored; only an absent meta or JSON null
means "no meta".
"""

from __future__ import annotations

import io
import uuid

import pytest

from helpers import assert_problem, docx_with, put_template


@pytest.fixture()
def name() -> str:
    return f"hostile-meta-{uuid.uuid4().hex[:8]}"


HOSTILE_META = {
    "false": ("false", 400, "meta"),
    "zero": ("0", 400, "meta"),
    "an empty string": ('""', 400, "meta"),
    "an empty list": ("[]", 400, "meta"),
    "a NaN title": ('{"title": NaN}', 422, "meta/title"),
    "an infinite title": ('{"title": 1e999}', 422, "meta/title"),
    "a title that is an object": ('{"title": {"zh": "标题"}}', 422, "meta/title"),
    "a megabyte title": ('{"title": "' + "长" * 1_000_000 + '"}', 422, "meta/title"),
    "formats holding a list": ('{"formats": [["pdf"]]}', 422, "meta/formats"),
    "formats holding an object": ('{"formats": [{"pdf": 1}]}', 422, "meta/formats"),
    "formats with a path": ('{"formats": ["../pdf"]}', 422, "meta/formats"),
    "formats in capitals": ('{"formats": ["PDF"]}', 422, "meta/formats"),
    "nested past the depth limit": ('{"title": ' + "[" * 5000 + "]" * 5000 + "}", 400, ""),
    "not JSON": ("{title: 1}", 400, ""),
    "not UTF-8": (b'{"title": "\xff\xfe"}', 400, ""),
}


@pytest.mark.parametrize(("meta", "status", "path"), HOSTILE_META.values(), ids=HOSTILE_META.keys())
def test_a_hostile_meta_part_is_refused_naming_it_and_nothing_is_stored(app, name, meta, status, path):
    api = app.test_client()
    raw = meta if isinstance(meta, bytes) else meta.encode()
    parts = {"file": (io.BytesIO(docx_with("{{ who }}")), "template.docx"), "meta": (io.BytesIO(raw), "meta.json")}
    body = assert_problem(api.put(f"/v1/templates/{name}", data=parts, content_type="multipart/form-data"), status)
    if path:
        assert body["errors"][0]["path"] == path
    else:  # refused while parsing: the detail names the part
        assert "'meta' part" in body["detail"]
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


def test_a_null_meta_means_no_meta(app, name):
    api = app.test_client()
    assert put_template(api, name, docx_with("{{ who }}"), meta=None).status_code == 201
    described = api.get("/v1/templates").get_json()
    assert [t["title"] for t in described if t["name"] == name] == [name]
