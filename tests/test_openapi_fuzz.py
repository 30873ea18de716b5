"""Property-based fuzzing of every operation in ``/openapi.json`` with schemathesis.

The Flask app is built by ``create_app`` against the session's real Redis, with its own queue
and key prefix (renders the fuzzer manages to queue are never taken by the session's workers,
and templates it deletes or uploads stay in its own namespace). Every response must be a non-5xx
and conform to the documented status codes, content types, headers and schemas.
``/readyz`` is left out: with no worker on the fuzz queue its documented answer is 503.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

MAX_EXAMPLES = 40
"""Generated cases per operation and generation mode (keeps the whole run well under a minute)."""
SPEC = Path(__file__).resolve().parent.parent / "service" / "openapi.json"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@schemathesis.serializer(DOCX_MIME)
def _docx_bytes(ctx, value) -> bytes:
    """A .docx part is whatever bytes the generator made (negative mode may make a non-bytes value)."""
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture(scope="module")
def fuzz_schema(settings):
    from service.app import create_app

    tag = uuid.uuid4().hex[:8]
    app = create_app(settings.with_(queue=f"wenshu-fuzz-{tag}", key_prefix=f"wenshu-fuzz-{tag}"))
    return schemathesis.openapi.from_wsgi("/openapi.json", app).exclude(path="/readyz")


def _cases() -> list[tuple[str, GenerationMode]]:
    """(operation label, mode) pairs from the static spec file (parametrisation precedes fixtures).

    Negative (schema-violating) input only exists for operations that take a body or a
    constrained parameter; for the others (``GET /healthz`` …) hypothesis finds none.
    """
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    static = schemathesis.openapi.from_dict(spec).exclude(path="/readyz")
    cases = []
    for result in static.get_all_operations():
        operation = result.ok()
        raw = operation.definition.raw
        params = [*spec["paths"][operation.path].get("parameters", []), *raw.get("parameters", [])]
        constrained = "requestBody" in raw or any(
            p.get("in") == "query" or set(p.get("schema", {})) - {"type"} for p in params)
        cases.append((operation.label, GenerationMode.POSITIVE))
        if constrained:
            cases.append((operation.label, GenerationMode.NEGATIVE))
    return cases


@pytest.mark.parametrize(("label", "mode"), _cases(), ids=lambda v: getattr(v, "value", v))
def test_operation_answers_without_server_error_and_as_documented(fuzz_schema, label, mode):
    operation = fuzz_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is in the spec file but not in the served /openapi.json"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def fuzz(case):
        case.call_and_validate(checks=CHECKS)

    fuzz()
