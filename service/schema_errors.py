"""JSON Schema errors as problem+json ``errors``, each at the pointer of what it is about.

jsonschema reports a missing required property and a property ``additionalProperties: false``
forbids at the *object* that holds them. An integrator fixing a payload needs the key itself:
``/data/currency`` and ``/data/buyer`` for two missing keys (each its own entry), ``/data/extra_key``
for an unknown one. Patterns of ``patternProperties`` are matched with RE2, like every schema
pattern (service/contracts.py), so a hostile pattern cannot stall this either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import re2
from jsonschema.exceptions import ValidationError

from core.pointer import pointer

from .schema_words import worded


def _schema_path(error: ValidationError) -> str:
    return "/" + "/".join(str(p) for p in error.absolute_schema_path)


def _unexpected(error: ValidationError) -> list[str]:
    """Keys of ``error.instance`` that ``additionalProperties: false`` refuses."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = []
    for key in error.instance:
        if key in known:
            continue
        try:
            if any(re2.search(p, key) for p in patterns):
                continue
        except re2.error:
            pass
        extras.append(key)
    return extras


def _entries(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    path = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict) and isinstance(error.validator_value, list):
        return [{"path": prefix + pointer((*path, key)), "message": f"{key!r} is a required property",
                 "schema_path": _schema_path(error)}
                for key in error.validator_value if key not in error.instance]
    if error.validator == "additionalProperties" and error.validator_value is False \
            and isinstance(error.instance, dict):
        extras = _unexpected(error)
        if extras:
            return [{"path": prefix + pointer((*path, key)), "message": f"{key!r} is not allowed here "
                     "(additionalProperties is false)", "schema_path": _schema_path(error)} for key in extras]
    return [{"path": prefix + pointer(path), "message": error.message, "schema_path": _schema_path(error)}]


def located(errors: Iterable[ValidationError], prefix: str = "",
            names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One entry per problem, at its own pointer, sorted by pointer; duplicates dropped.

    jsonschema yields one ``required`` error per missing key, all at the parent object; each is
    expanded to every missing key, so the duplicates this makes are dropped here. With ``names``
    (field titles, service.schema_words.labels) the messages are worded in zh-CN and en.
    """
    seen: set[tuple[str, str]] = set()
    out = []
    for error in errors:
        for entry in _entries(error, prefix):
            entry = worded(error, entry, names) if names is not None else entry  # noqa: PLW2901
            if (entry["path"], entry["message"]) not in seen:
                seen.add((entry["path"], entry["message"]))
                out.append(entry)
    return sorted(out, key=lambda e: e["path"])
