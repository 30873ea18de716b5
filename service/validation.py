"""Checking what integrators send before anything is queued.

Three layers, each answering with JSON pointers into the request body: the request's own shape
(a JSON Schema of the render request), the template's ``schema.json`` for ``data``, and the
template's ``rules.json`` consistency rules. ``strict`` validation refuses violations with 422;
``warn`` renders anyway and the job lists them in ``warnings``. Typed values ($rich options,
$image data...: core/typed_values.py) are refused in both modes, since the render would fail on them.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from core.errors import BadRequest, InvalidData, InvalidRequest, Unprocessable
from core.finish_options import PDF_SCHEMA, WATERMARK_SCHEMA, check_finish_options
from core.formats import FORMATS
from core.typed_values import check_typed_values

from .contracts import DataValidator, compile_validator
from .messages import relabel
from .rules import check_rules, raise_for_violations
from .schema_errors import located
from .schema_words import labels

RENDER_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["data"],
    "additionalProperties": False,
    "properties": {
        "template": {"type": "string", "minLength": 1, "maxLength": 64},
        "template_version": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
        "data": {"type": "object"},
        "formats": {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"enum": list(FORMATS)}},
        "filename": {"type": "string", "minLength": 1, "maxLength": 120},
        "options": {"type": "object", "additionalProperties": False, "properties": {
            "pdf": PDF_SCHEMA,  # PDF/A, passwords, permissions, metadata, signature (core/finish_options.py)
            "watermark": WATERMARK_SCHEMA,
            "update_indexes": {"type": "boolean"},
            "undefined": {"enum": ["strict", "warn", "blank"]}}},
        "validation": {"enum": ["strict", "warn"]},
        "callback_url": {"type": "string", "maxLength": 2048},
        "cache": {"type": "boolean"},  # false: render anew, never reuse files (service/render_cache.py)
    },
}
_REQUEST_VALIDATOR = Draft202012Validator(RENDER_REQUEST_SCHEMA)
MAX_ERRORS = 200
"""Schema errors and rule violations one 422 lists at most."""


def parse_json(raw: bytes, where: str, max_depth: int) -> Any:
    """Parse request JSON, refusing malformed text and absurd nesting with a 400."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        at = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequest(f"{where} is not valid JSON{at}: {exc}",
                         errors=[{"path": "", "message": f"invalid JSON in {where}"}]) from None
    except RecursionError:
        raise BadRequest(f"{where} is nested too deeply") from None
    depth = _depth(value)
    if depth > max_depth:
        raise BadRequest(f"{where} is nested {depth} levels deep; the limit is {max_depth}",
                         errors=[{"path": "", "message": "JSON nested too deeply"}])
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node)
    return deepest


def validate_request(body: Any) -> dict[str, Any]:
    """Check the render request's own fields; return it with defaults filled in."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", errors=[{"path": "", "message": "not an object"}])
    errors = [{"path": e["path"], "message": e["message"]} for e in located(_REQUEST_VALIDATOR.iter_errors(body))]
    if errors:
        raise InvalidRequest("the render request is malformed: " + _summary(errors), errors=errors)
    check_finish_options(body.get("options"))
    return {"formats": ["pdf"], "validation": "strict", "options": {}} | body


def _summary(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['path'] or '/'}: {e['message']}" for e in errors[:5])


def _schema_errors(data: Any, validator: DataValidator, prefix: str) -> list[dict[str, Any]]:
    """All schema errors of ``data``, each at its own pointer, sorted by where they are.

    Upload refuses schemas whose references leave the document or loop, but a schema stored
    before those checks (or a CLI template folder) may still hold one: a 422 about the schema,
    never a fetch (the validator's registry refuses) and never a 500.
    """
    try:
        errors = list(validator.iter_errors(data))
        return located(errors, prefix, labels(validator.schema)) if errors else []
    except Unresolvable as exc:
        raise Unprocessable(f"the template's schema has a reference that cannot be resolved: {exc}",
                            errors=[{"path": "schema", "message": "unresolvable $ref"}]) from exc
    except RecursionError:
        raise Unprocessable("the template's schema refers to itself without end",
                            errors=[{"path": "schema", "message": "endless $ref recursion"}]) from None


def validate_data(data: Any, schema: dict | None, rules: list, *, pointer_prefix: str = "/data",
                  mode: str = "strict", validator: DataValidator | None = None,
                  rule_timeout: float | None = None) -> list[dict[str, Any]]:
    """Validate ``data`` against a template's contract.

    Returns:
        The rule violations as warnings (``warn`` mode); empty when valid.
    Raises:
        InvalidData: schema errors and typed values outside their grammar (always, in both modes:
        the render would fail on them); the rule violations of the same data are listed in the same
        422, so one round trip shows everything. RuleViolation: rule violations in ``strict`` mode.
    """
    errors = _schema_errors(data, validator or compile_validator(schema), pointer_prefix) if schema else []
    if errors:
        detail = f"data does not match the template's schema ({len(errors)} problem(s)): " + _summary(errors)
        detail += _rules_too(data, rules, pointer_prefix, rule_timeout, errors, schema)
        raise InvalidData(detail, errors=errors[:MAX_ERRORS])
    # The worker's own grammar ($rich options, $image data, control characters), run now so a bad
    # value is a 422 at POST rather than a failed job; only `style` waits for the template.
    check_typed_values(data, tuple(part for part in pointer_prefix.split("/") if part))
    violations = _violations(data, rules, pointer_prefix, rule_timeout, schema)
    if violations and mode == "strict":
        raise_for_violations(violations)
    return violations


def _violations(data: Any, rules: list, prefix: str, timeout: float | None,
                schema: dict | None = None) -> list[dict[str, Any]]:
    """The rule violations of ``data``, their pointers under ``prefix``."""
    if not rules:
        return []
    violations = check_rules(rules, data, timeout=timeout)  # None: WENSHU_RULE_TIMEOUT's default
    for v in violations:
        v["path"] = prefix + v.get("path", "")
        v["cells"] = [prefix + c for c in v.get("cells", [])]
    if violations and schema:
        relabel(violations, rules, labels(schema))  # columns in words (自然人), not keys
    return violations


def _rules_too(data: Any, rules: list, prefix: str, timeout: float | None, errors: list[dict[str, Any]],
               schema: dict | None = None) -> str:
    """Add the rule violations of schema-invalid ``data`` to ``errors``; a note for the detail.

    Rules run on the data as it is: a rule instance that cannot compute on a bad value fails by
    itself (rules.py catches it per instance) and is left out here, since the schema error
    already names that value. Typed values are not checked on data the schema refused.
    """
    found = [v for v in _violations(data, rules, prefix, timeout, schema) if "error" not in v]
    errors.extend({"path": v["path"], "message": v["message"], "message_en": v["message_en"], "rule": v["rule"],
                   "cells": v["cells"], "left": v["left"], "right": v["right"]} for v in found)
    return f"; and {len(found)} rule violation(s), listed with their rule" if found else ""
