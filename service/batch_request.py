"""Checking a ``POST /v1/batches`` body before anything is queued: its shape, then every record.

Every record is validated like a render's ``data`` (schema, typed values, rules), with pointers
under ``/records/{i}/data``; the errors of all records come back in one 422, so an integrator
fixes a file of records in one round trip.
"""

from __future__ import annotations

import time
from typing import Any

from jsonschema import Draft202012Validator

from core.batch_doc import OUTPUTS
from core.errors import InvalidData, InvalidRequest, RenderLimitExceeded, Unprocessable

from .registry import TemplateVersion
from .schema_errors import located
from .validation import RENDER_REQUEST_SCHEMA, validate_data

CHECK_BUDGET_RULE_TIMEOUTS = 20
"""CPU time one batch's checks may take in all, in WENSHU_RULE_TIMEOUTs (40 s by default): each record's
rules are bounded by the rule timeout, and a thousand of them must not hold an API thread for ever."""
MAX_ERRORS = 100
"""Record errors one 422 lists (the detail says how many records failed in all)."""
_shared = RENDER_REQUEST_SCHEMA["properties"]
BATCH_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["template", "records"],
    "additionalProperties": False,
    "properties": {
        "template": _shared["template"],
        "template_version": _shared["template_version"],
        "records": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["data"], "additionalProperties": False,
            "properties": {"data": {"type": "object"}, "filename": _shared["filename"]}}},
        "formats": _shared["formats"],
        "outputs": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(OUTPUTS)}},
        "outline_title": {"type": "string", "minLength": 1, "maxLength": 200},
        "filename": _shared["filename"],
        "options": _shared["options"],
        "validation": _shared["validation"],
        "callback_url": _shared["callback_url"],
    },
}
_VALIDATOR = Draft202012Validator(BATCH_REQUEST_SCHEMA)


def check_batch_shape(body: Any, max_records: int) -> dict[str, Any]:
    """The batch request's own fields, with defaults filled in; 422 with pointers otherwise."""
    if not isinstance(body, dict):
        raise InvalidRequest("the batch request must be a JSON object",
                             errors=[{"path": "", "message": "not an object"}])
    records = body.get("records")
    if isinstance(records, list) and len(records) > max_records:
        raise InvalidRequest(f"a batch holds at most {max_records} records (WENSHU_MAX_BATCH_RECORDS); got "
                             f"{len(records)}", errors=[{"path": "/records", "message": f"more than {max_records}"}])
    # Each missing or unknown key at its own pointer (service/schema_errors.py), like renders.
    errors = [{"path": e["path"], "message": e["message"]} for e in located(_VALIDATOR.iter_errors(body))]
    if errors:
        raise InvalidRequest("the batch request is malformed: " + "; ".join(
            f"{e['path'] or '/'}: {e['message']}" for e in errors[:5]), errors=errors[:MAX_ERRORS])
    body = {"formats": ["pdf"], "outputs": ["files"], "validation": "strict", "options": {}} | body
    if "merged_pdf" in body["outputs"] and "pdf" not in body["formats"]:
        raise InvalidRequest("the merged_pdf output needs \"pdf\" in formats",
                             errors=[{"path": "/outputs", "message": "merged_pdf without the pdf format"}])
    return body


def check_records(body: dict[str, Any], tv: TemplateVersion, rule_timeout: float) -> list[list[dict[str, Any]]]:
    """Validate every record against the template's contract.

    Returns:
        Each record's warnings (``warn`` mode).
    Raises:
        InvalidData: every problem of every record (up to MAX_ERRORS), at ``/records/{i}/data/...``.
    """
    warnings, errors, bad = [], [], 0
    deadline = time.thread_time() + CHECK_BUDGET_RULE_TIMEOUTS * rule_timeout
    for i, record in enumerate(body["records"]):
        if time.thread_time() > deadline:
            raise RenderLimitExceeded(f"checking the records took more than {CHECK_BUDGET_RULE_TIMEOUTS} × "
                                      f"WENSHU_RULE_TIMEOUT of CPU time; send fewer records per batch",
                                      errors=[{"path": f"/records/{i}", "message": "checks stopped here"}])
        try:
            warnings.append(validate_data(record["data"], tv.schema, tv.rules, pointer_prefix=f"/records/{i}/data",
                                          mode=body["validation"], validator=tv.validator, rule_timeout=rule_timeout))
        except Unprocessable as exc:
            bad += 1
            errors += exc.errors or [{"path": f"/records/{i}/data", "message": exc.detail}]
            warnings.append([])
    if bad:
        first = errors[0]
        raise InvalidData(f"{bad} of {len(body['records'])} records do not satisfy the template's contract; "
                          f"first: {first['path']}: {first['message']}", errors=errors[:MAX_ERRORS])
    return warnings


def outline_titles(records: list[dict[str, Any]], field: str | None) -> list[str]:
    """Each record's outline entry: the value at ``field`` (a JSON pointer or a top-level key), else "1", "2"…"""
    return [_title(r["data"], field) or str(i + 1) for i, r in enumerate(records)]


def _title(data: Any, field: str | None) -> str | None:
    if not field:
        return None
    parts = [field]
    if field.startswith("/"):  # a JSON pointer (RFC 6901)
        parts = [p.replace("~1", "/").replace("~0", "~") for p in field[1:].split("/")]
    node = data
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool) or not isinstance(node, str | int | float):
        return None
    return str(node).strip()[:200] or None
