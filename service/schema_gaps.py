"""Upload warnings: names a template reads that its schema does not define.

A template that prints ``salary_item`` next to a schema that defines ``salary_items`` renders an
empty table for every valid request, and nothing else would say so. ``PUT /v1/templates/{name}``
lists each such name in its response's ``warnings``. A schema that accepts any other key on
purpose (an ``additionalProperties`` schema or ``true``, or a matching ``patternProperties``)
defines them all; a schema without ``properties`` (only ``$ref``/``allOf``...) is not second-guessed.
"""

from __future__ import annotations

from typing import Any

import re2

from core.pointer import pointer


def undefined_in_schema(variables: list[str], schema: Any) -> list[dict[str, Any]]:
    """One warning per top-level template name ``schema``'s ``properties`` do not define."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return []
    extra = schema.get("additionalProperties")
    if extra is True or (isinstance(extra, dict) and extra):
        return []
    patterns = [p for p in (schema.get("patternProperties") or {}) if isinstance(p, str)]
    return [{"code": "undefined-in-schema", "path": pointer(("properties", name)), "variable": name,
             "message": f"模板使用了 {name}，但模板的 schema 的 properties 中没有定义它（拼写错误？）",
             "message_en": f"the template uses '{name}', which the schema's properties do not define "
                           "(a typo?)"}
            for name in variables
            if name not in schema["properties"] and not any(_matches(p, name) for p in patterns)]


def _matches(pattern: str, name: str) -> bool:
    try:
        return re2.search(pattern, name) is not None
    except re2.error:
        return False
