"""A template's schema never fetches anything, and its regular expressions run in linear time.

Attacks replayed here: a ``$ref`` to ``file:///…`` or to a loopback URL used to be resolved by
the API process (contents echoed in the 422, a slow endpoint holding the request), and a
``"pattern": "^(a+)+$"`` with a 30-character value froze the whole API. Requests that would hang
if the attack worked go to a real ``wenshu serve`` process with a client timeout, so a regression
fails the test instead of freezing the test run.
"""

from __future__ import annotations

import http.server
import io
import json
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from conftest import stop_process_tree, worker_env
from core.errors import Unprocessable
from core.settings import PROJECT_ROOT
from helpers import assert_problem, docx_with, free_port, put_template
from service.validation import validate_data

DOCX = docx_with("Dear {{ who }},")
PATIENCE = 10
"""Seconds a request that must not wait on anything gets: generous, yet far below any hang."""
BACKTRACKER = "^(a+)+$"
"""Exponential under a backtracking engine: 'a' * 40 + 'b' takes Python's re days."""
EVIL_VALUE = "a" * 40 + "b"


def who_schema(who: dict, **extra) -> dict:
    return {"type": "object", "required": ["who"], "properties": {"who": who}, **extra}


@pytest.fixture()
def api(app):
    return app.test_client()


@pytest.fixture()
def name() -> str:
    return f"contract-{uuid.uuid4().hex[:8]}"


# --- a real server, for requests that would hang if the attack worked ------------------------------


class Served:
    """``wenshu serve`` on a free port: every call has a client timeout."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
             timeout: float = PATIENCE) -> tuple[int, dict]:
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"Content-Type": content_type} if body is not None else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def put_template(self, name: str, **json_parts) -> tuple[int, dict]:
        parts = {"file": FileStorage(io.BytesIO(DOCX), filename="template.docx")}
        parts |= {k: json.dumps(v, ensure_ascii=False) for k, v in json_parts.items()}
        boundary, body = encode_multipart(parts)
        return self.call("PUT", f"/v1/templates/{name}", body, f"multipart/form-data; boundary={boundary}")

    def render(self, name: str, data: dict) -> tuple[int, dict]:
        return self.call("POST", "/v1/renders", json.dumps({"template": name, "data": data}).encode())


@pytest.fixture(scope="module")
def served(settings) -> Iterator[Served]:
    port = free_port()
    env = worker_env(settings, WENSHU_HOST="127.0.0.1", WENSHU_PORT=str(port), WENSHU_API_THREADS="8")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve"], env=env, cwd=PROJECT_ROOT,
                            start_new_session=True)
    server = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "wenshu serve exited during start-up"
            try:
                if server.call("GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "wenshu serve did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield server
    finally:
        stop_process_tree(proc)


# --- listeners a fetch would reach --------------------------------------------------------------------


class CountingServer(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that serves a canary schema and counts every connection it gets."""

    daemon_threads = True

    def __init__(self, canary: str) -> None:
        body = json.dumps({"type": "string", "description": canary}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True


@pytest.fixture()
def canary_server() -> Iterator[tuple[CountingServer, str]]:
    canary = f"canary-{uuid.uuid4().hex}"
    server = CountingServer(canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, canary
    server.shutdown()
    server.server_close()


@pytest.fixture()
def silent_listener() -> Iterator[socket.socket]:
    """A socket that accepts connections into its backlog and never answers: a slow endpoint."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


def has_pending_connection(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


# --- nothing is fetched -----------------------------------------------------------------------------


def test_schema_ref_to_a_local_file_is_refused_without_reading_it(api, name, tmp_path):
    canary = f"canary-{uuid.uuid4().hex}"
    secret = tmp_path / "local.json"
    secret.write_text(json.dumps({"type": "string", "description": canary}))
    response = put_template(api, name, DOCX, schema=who_schema({"$ref": secret.as_uri()}))
    body = assert_problem(response, 422)
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/$ref"]
    assert "nothing is fetched" in body["errors"][0]["message"]
    assert canary not in response.get_data(as_text=True)
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


def test_schema_ref_to_a_loopback_url_is_refused_without_connecting(api, name, canary_server):
    server, canary = canary_server
    url = f"http://127.0.0.1:{server.server_address[1]}/schema.json"
    response = put_template(api, name, DOCX, schema=who_schema({"type": "string"}, **{"$defs": {"x": {"$ref": url}}}))
    body = assert_problem(response, 422)
    assert [e["path"] for e in body["errors"]] == ["schema/$defs/x/$ref"]
    assert canary not in response.get_data(as_text=True)
    assert server.connections == 0


def test_schema_ref_to_a_slow_endpoint_is_answered_at_once(served, name, silent_listener):
    url = f"http://127.0.0.1:{silent_listener.getsockname()[1]}/slow.json"
    status, body = served.put_template(name, schema=who_schema({"$ref": url}))
    assert status == 422, body
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/$ref"]
    assert not has_pending_connection(silent_listener)


def test_schema_ref_to_the_metaschema_url_is_refused(api, name):
    metaschema = who_schema({"$ref": "https://json-schema.org/draft/2020-12/schema"})
    body = assert_problem(put_template(api, name, DOCX, schema=metaschema))
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/$ref"]


def test_stored_schema_with_a_remote_ref_fails_validation_without_connecting(canary_server):
    """A schema stored before upload checked references: a 422 about the schema, no fetch."""
    server, canary = canary_server
    schema = who_schema({"$ref": f"http://127.0.0.1:{server.server_address[1]}/schema.json"})
    with pytest.raises(Unprocessable) as raised:
        validate_data({"who": "x"}, schema, [])
    assert raised.value.errors[0]["path"] == "schema"
    assert canary not in str(raised.value.to_problem())
    assert server.connections == 0


def test_local_ref_to_defs_still_validates(api, name):
    schema = who_schema({"$ref": "#/$defs/person"}, **{"$defs": {"person": {"type": "string", "minLength": 2}}})
    assert put_template(api, name, DOCX, schema=schema, sample={"who": "王五"}).status_code == 201
    body = assert_problem(api.post("/v1/renders", json={"template": name, "data": {"who": "王"}}), 422)
    assert [e["path"] for e in body["errors"]] == ["/data/who"]


def test_ref_to_the_id_of_an_embedded_subschema_resolves_locally(api, name):
    schema = who_schema({"$ref": "person.json"}, **{
        "$id": "https://schemas.invalid/letter.json",
        "$defs": {"person": {"$id": "person.json", "type": "string", "maxLength": 4}}})
    assert put_template(api, name, DOCX, schema=schema, sample={"who": "王五"}).status_code == 201
    body = assert_problem(put_template(api, name, DOCX, schema=schema, sample={"who": "far too long"}), 422)
    assert [e["path"] for e in body["errors"]] == ["/sample/who"]


def test_ref_to_a_missing_local_definition_is_refused_naming_it(api, name):
    schema = who_schema({"$ref": "#/$defs/nobody"}, **{"$defs": {"person": {"type": "string"}}})
    body = assert_problem(put_template(api, name, DOCX, schema=schema), 422)
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/$ref"]


def test_dynamic_ref_outside_the_document_is_refused(api, name):
    schema = who_schema({"$dynamicRef": "https://schemas.invalid/x#meta"})
    body = assert_problem(put_template(api, name, DOCX, schema=schema))
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/$dynamicRef"]


def test_schema_that_refers_to_itself_endlessly_is_a_422(api, name):
    body = assert_problem(put_template(api, name, DOCX, schema={"$ref": "#"}, sample={"who": "x"}), 422)
    assert body["errors"][0]["path"] == "schema"


def test_schema_declaring_another_draft_is_refused(api, name):
    schema = who_schema({"type": "string"}, **{"$schema": "http://json-schema.org/draft-07/schema#"})
    body = assert_problem(put_template(api, name, DOCX, schema=schema), 422)
    assert [e["path"] for e in body["errors"]] == ["schema/$schema"]


# --- linear-time regular expressions -------------------------------------------------------------------


def test_backtracking_pattern_with_a_long_value_is_a_prompt_422(served, name):
    assert served.put_template(name, schema=who_schema({"type": "string", "pattern": BACKTRACKER}))[0] == 201
    status, body = served.render(name, {"who": EVIL_VALUE})
    assert status == 422, body
    assert [e["path"] for e in body["errors"]] == ["/data/who"]
    assert "does not have the expected form" in body["errors"][0]["message_en"]


def test_healthz_answers_while_backtracking_prone_requests_are_validated(served, name):
    """Python's re would hold the GIL for days on these; /healthz must still answer meanwhile."""
    schema = who_schema({"type": "string", "pattern": BACKTRACKER},
                        patternProperties={BACKTRACKER: {"type": "integer"}})
    assert served.put_template(name, schema=schema)[0] == 201
    data = {"who": "a" * 5000 + "b"} | {"a" * n + "b": "not an integer" for n in range(30, 60)}
    outcomes: list[int] = []
    attackers = [threading.Thread(target=lambda: outcomes.append(served.render(name, data)[0]), daemon=True)
                 for _ in range(4)]
    for attacker in attackers:
        attacker.start()
    health = [served.call("GET", "/healthz")[0]]
    while any(a.is_alive() for a in attackers) and len(health) < 50:
        health.append(served.call("GET", "/healthz")[0])
    for attacker in attackers:
        attacker.join(PATIENCE * 3)
    assert set(health) == {200}
    assert outcomes == [422] * 4


@pytest.mark.parametrize(("case", "pattern"), [
    ("lookahead", r"^(?=.*\d)\w+$"),
    ("lookbehind", r"(?<=x)y"),
    ("backreference", r"^(\w)\1$"),
])
def test_pattern_without_a_linear_time_engine_is_refused_at_upload(api, name, case, pattern):
    body = assert_problem(put_template(api, name, DOCX, schema=who_schema({"type": "string", "pattern": pattern})), 422)
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/pattern"]
    assert "RE2" in body["errors"][0]["message"]
    assert_problem(api.get(f"/v1/templates/{name}"), 404)


def test_pattern_properties_key_without_a_linear_time_engine_is_refused_naming_it(api, name):
    schema = {"type": "object", "properties": {"totals": {"patternProperties": {r"^(\w)\1$": {}, "^ok$": {}}}}}
    body = assert_problem(put_template(api, name, DOCX, schema=schema), 422)
    assert [e["path"] for e in body["errors"]] == [r"schema/properties/totals/patternProperties/^(\w)\1$"]
    assert "RE2" in body["errors"][0]["message"]


def test_over_long_pattern_is_refused_at_upload(api, name):
    body = assert_problem(put_template(api, name, DOCX, schema=who_schema({"type": "string", "pattern": "a" * 1001})))
    assert [e["path"] for e in body["errors"]] == ["schema/properties/who/pattern"]
    assert "limit" in body["errors"][0]["message"]


def test_pattern_properties_and_additional_properties_run_on_re2(served, name):
    schema = {"type": "object", "patternProperties": {BACKTRACKER: {"type": "integer"}},
              "additionalProperties": False}
    assert served.put_template(name, schema=schema, sample={"aaaa": 1})[0] == 201
    status, body = served.render(name, {EVIL_VALUE: 1, "aaa": "three"})
    assert status == 422, body
    # The unknown key is named at its own pointer (matched against the pattern with RE2).
    assert sorted(e["path"] for e in body["errors"]) == ["/data/aaa", "/data/" + EVIL_VALUE]
    assert EVIL_VALUE in body["errors"][1]["message"]


def test_unevaluated_properties_consult_patterns_on_re2(served, name):
    schema = {"type": "object", "allOf": [{"patternProperties": {BACKTRACKER: {}}}],
              "unevaluatedProperties": False}
    assert served.put_template(name, schema=schema, sample={"aaaa": 1})[0] == 201
    status, body = served.render(name, {EVIL_VALUE: 1, "aa": 2})
    assert status == 422, body
    assert EVIL_VALUE in body["errors"][0]["message"] and "'aa'" not in body["errors"][0]["message"]


def test_patterns_are_searched_not_anchored_and_ecma_unicode_escapes_work(api, name):
    schema = who_schema({"type": "string", "pattern": r"[\u4e00-\u9fa5]{2}"})
    assert put_template(api, name, DOCX, schema=schema, sample={"who": "Mr 王五 (Beijing)"}).status_code == 201
    body = assert_problem(api.post("/v1/renders", json={"template": name, "data": {"who": "Mr Wang"}}), 422)
    assert [e["path"] for e in body["errors"]] == ["/data/who"]


def test_formats_are_checked_locally_with_regex_meaning_re2(api, name):
    schema = {"type": "object", "properties": {"day": {"format": "date"}, "rx": {"format": "regex"}}}
    sample = {"day": "2024-02-29", "rx": "^[a-z]+$"}
    assert put_template(api, name, DOCX, schema=schema, sample=sample).status_code == 201
    bad = {"day": "2024-02-30", "rx": "(?=a)"}
    body = assert_problem(api.post("/v1/renders", json={"template": name, "data": bad}))
    assert sorted(e["path"] for e in body["errors"]) == ["/data/day", "/data/rx"]


def test_schema_id_that_is_not_a_uri_is_refused_naming_it(api, name):
    person = {"$id": "http://[broken", "type": "string"}
    schema = who_schema({"$ref": "#/$defs/person"}, **{"$defs": {"person": person}})
    body = assert_problem(put_template(api, name, DOCX, schema=schema), 422)
    assert [e["path"] for e in body["errors"]] == ["schema/$defs/person/$id"]
