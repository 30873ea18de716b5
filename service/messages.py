"""Messages in the reader's language: zh-CN by default, English when Accept-Language prefers it.

Every entry of a problem's ``errors`` (and of lint ``problems``, job ``warnings``) carries
``message`` and ``message_en``. Producers write ``message`` in Chinese where they can (schema
errors: service/schema_words.py; rule messages; lint through service/lint_zh.py) and
``message_en`` in English; :func:`localize` then makes ``message`` the reader's language. An
entry written in one language only is left as it is. Pointers and every other field are untouched.

Rule messages name what a ``for_each`` binding stands for in words (``自然人``, taken from the
title or short description the schema gives that key), not the internal key (``natural_person``).
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from .lint_zh import lint_zh
from .rule_data import fill

LANGUAGES = ("zh-CN", "en")


def language() -> str:
    """``zh`` or ``en`` for the current request (``zh`` outside a request, and by default)."""
    if not has_request_context() or not request.headers.get("Accept-Language"):
        return "zh"
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best == "en" else "zh"


def localize(entries: list[Any], lang: str | None = None) -> list[Any]:
    """``entries`` with ``message`` in ``lang`` (default: the request's) and ``message_en`` kept."""
    lang = lang or language()
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("message"), str):
            out.append(entry)
            continue
        english = entry.get("message_en") or entry["message"]
        chinese = entry["message"] if entry.get("message_en") else lint_zh(entry["message"])
        if chinese == english:  # written in one language only: shown as written, nothing added
            out.append(entry)
            continue
        out.append({**entry, "message": english if lang == "en" else chinese, "message_en": english})
    return out


def localize_problem(body: dict[str, Any]) -> dict[str, Any]:
    """A problem+json body with its ``errors`` localized (see :func:`localize`)."""
    if isinstance(body.get("errors"), list):
        return {**body, "errors": localize(body["errors"])}
    return body


def localize_job(doc: dict[str, Any]) -> dict[str, Any]:
    """A job document with its ``warnings`` and its ``error``'s ``errors`` localized."""
    doc = {**doc, "warnings": localize(doc.get("warnings") or [])}
    if isinstance(doc.get("error"), dict):
        doc["error"] = localize_problem(doc["error"])
    return doc


def relabel(violations: list[dict[str, Any]], rules: list[Any], names: dict[str, str]) -> None:
    """Refill each violation's messages with its bindings in words (in place).

    ``{col}`` = ``natural_person`` reads ``自然人`` in the Chinese message (the schema's name for
    that key) and ``natural person`` in the English one.
    """
    by_id = {r.get("id"): r for r in rules if isinstance(r, dict)}
    for violation in violations:
        rule = by_id.get(violation.get("rule"))
        bindings = violation.get("bindings") or {}
        if rule is None or not bindings:
            continue
        sides = {"left": violation.get("left"), "right": violation.get("right")}
        if isinstance(rule.get("message"), str):
            zh = {k: names.get(v, v) if isinstance(v, str) else v for k, v in bindings.items()}
            violation["message"] = fill(rule["message"], {**zh, **sides})
        if isinstance(rule.get("message_en"), str):
            en = {k: v.replace("_", " ") if isinstance(v, str) else v for k, v in bindings.items()}
            violation["message_en"] = fill(rule["message_en"], {**en, **sides})
