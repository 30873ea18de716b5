"""How a template's JSON Schema is checked at upload and compiled for validating ``data``.

Two properties hold for every schema this service accepts or evaluates:

* **Nothing is ever fetched.** ``$ref``/``$dynamicRef`` resolve through a ``referencing``
  registry whose ``retrieve`` refuses every URI, so only references inside the same document
  (``#/$defs/x``, anchors, ``$id`` of embedded subschemas) work. Upload refuses any other
  reference with a 422 naming its JSON pointer, before anything is stored.
* **Regular expressions run in linear time.** ``pattern``, ``patternProperties`` (and the
  keywords that consult it: ``additionalProperties``, ``unevaluatedProperties``) and the
  ``regex`` format use RE2, never Python's backtracking ``re``: one request with
  ``^(a+)+$`` must not freeze the API (Python's ``re`` holds the GIL while it backtracks).

JSON Schema patterns are ECMA-262 and unanchored, so they are *searched*; ECMA's ``\\uXXXX``
escapes are translated to RE2's ``\\x{XXXX}``. Lookarounds and backreferences have no linear-time
implementation, so RE2 refuses them and so does upload.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import re2
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator as DataValidator
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from core.errors import Unprocessable
from core.pointer import pointer

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_PATTERN_LENGTH = 1_000
"""Characters one pattern may have: longer ones are never needed by a data contract."""
MAX_PATTERNS = 256
"""Patterns one schema may hold; with RE2_MAX_MEM this bounds a schema's regex memory."""
RE2_MAX_MEM = 2 << 20
"""Bytes RE2 may spend on one compiled pattern (program + DFA cache); bigger ones fail to compile."""

# Keywords of draft 2020-12 whose value is a schema, a list of schemas, or a map of schemas:
# the same lists `referencing` crawls, so the walk sees every subschema the validator can reach.
_SCHEMA_IN_VALUE = frozenset({"additionalProperties", "contains", "contentSchema", "else", "if", "items",
                              "not", "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"})
_SCHEMAS_IN_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMAS_IN_MAP = frozenset({"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"})
_REFERENCES = ("$ref", "$dynamicRef")


class PatternError(ValueError):
    """A pattern RE2 cannot (or may not) compile; the message says why, for the template author."""


# --- RE2 --------------------------------------------------------------------------------------------

_ECMA_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|u\{([0-9A-Fa-f]{1,6})\}|(.))", re.DOTALL)


def _ecma_to_re2(pattern: str) -> str:
    """ECMA-262 ``\\uXXXX`` / ``\\u{X}`` → RE2 ``\\x{X}``; every other escape is kept as written."""
    def swap(match: re.Match) -> str:
        code = match.group(1) or match.group(2)
        return f"\\x{{{code}}}" if code else match.group(0)

    return _ECMA_ESCAPE.sub(swap, pattern)


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False  # a refused pattern is the author's 422, not a line on our stderr
    return options


_OPTIONS = _re2_options()


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The RE2 program of a JSON Schema pattern (cached: every request reuses the same patterns).

    Raises:
        PatternError: too long, or not RE2 syntax (lookaround, backreference...).
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN_LENGTH}")
    try:
        return re2.compile(_ecma_to_re2(pattern), _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"pattern {pattern!r} is not RE2 syntax ({reason}); patterns must be RE2 "
                           "(no lookarounds or backreferences) so they run in linear time") from None


def pattern_matches(pattern: str, text: str) -> bool:
    """Whether ``pattern`` occurs anywhere in ``text`` (JSON Schema patterns are unanchored)."""
    return compile_pattern(pattern).search(text) is not None


def _is_re2_regex(instance: object) -> bool:
    if isinstance(instance, str):
        compile_pattern(instance)
    return True


def _format_checker() -> FormatChecker:
    """Draft 2020-12's local format checks, with ``regex`` meaning "RE2 compiles it".

    None of these reach the network: they are pure functions of the string.
    """
    checker = FormatChecker(())
    for name, (func, raises) in Draft202012Validator.FORMAT_CHECKER.checkers.items():
        if name != "regex":
            checker.checks(name, raises)(func)
    checker.checks("regex", raises=PatternError)(_is_re2_regex)
    return checker


FORMAT_CHECKER = _format_checker()


# --- keywords that consult patterns, re-implemented on RE2 ----------------------------------------------


def _short(text: str, limit: int = 80) -> str:
    """``repr`` of a value, cut short: a 20 MB string need not come back in the error message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def _search_or_false(pattern: str, text: str) -> bool:
    """Match for keywords that only sort keys; a pattern RE2 refuses matches nothing."""
    try:
        return pattern_matches(pattern, text)
    except PatternError:
        return False


def _pattern(validator, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = pattern_matches(pattern, instance)
    except PatternError as exc:  # only schemas stored before upload checked patterns
        yield ValidationError(str(exc))
        return
    if not found:
        yield ValidationError(f"{_short(instance)} does not match {pattern!r}")


def _pattern_properties(validator, patterns: dict, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            yield ValidationError(str(exc))
            continue
        for key, value in instance.items():
            if pattern_matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_keys(instance: dict, schema: dict) -> list[str]:
    """Keys neither ``properties`` nor any ``patternProperties`` pattern covers."""
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return sorted((key for key in instance if key not in properties
                   and not any(_search_or_false(p, key) for p in patterns)), key=str)


def _listing(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys) + (" was" if len(keys) == 1 else " were")


def _additional_properties(validator, extra_schema: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = _additional_keys(instance, schema)
    if validator.is_type(extra_schema, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], extra_schema, path=extra)
    elif not extra_schema and extras:
        if "patternProperties" in schema:
            patterns = ", ".join(repr(p) for p in sorted(schema["patternProperties"]))
            verb = "does" if len(extras) == 1 else "do"
            yield ValidationError(f"{', '.join(repr(k) for k in extras)} {verb} not match any of the regexes: "
                                  f"{patterns}")
        else:
            yield ValidationError(f"Additional properties are not allowed ({_listing(extras)} unexpected)")


def _is_valid(errors: Iterator[ValidationError]) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator, instance: dict, schema: Any) -> set[str]:
    """Keys some keyword of ``schema`` evaluated (jsonschema's own walk, with RE2 for patterns)."""
    if not isinstance(schema, dict):
        return set()
    keys: set[str] = set()
    for keyword in _REFERENCES:
        if (ref := schema.get(keyword)) is not None:
            resolved = validator._resolver.lookup(ref)
            child = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            keys |= _evaluated_keys(child, instance, resolved.contents)
    if validator.is_type(properties := schema.get("properties"), "object"):
        keys |= properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys |= {k for k, v in instance.items() if _is_valid(validator.descend(v, subschema))}
    for pattern in schema.get("patternProperties", {}):
        keys |= {k for k in instance if _search_or_false(pattern, k)}
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in instance:
            keys |= _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _is_valid(validator.descend(instance, subschema)):
                keys |= _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"])
            keys |= _evaluated_keys(validator, instance, schema.get("then"))
        else:
            keys |= _evaluated_keys(validator, instance, schema.get("else"))
    return keys


def _unevaluated_properties(validator, unevaluated: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    invalid = [key for key in instance if key not in evaluated
               and not _is_valid(validator.descend(instance[key], unevaluated, path=key, schema_path=key))]
    if invalid and unevaluated is False:
        yield ValidationError(f"Unevaluated properties are not allowed ({_listing(sorted(invalid))} unexpected)")
    elif invalid:
        yield ValidationError("Unevaluated properties are not valid under the given schema "
                              f"({_listing(invalid)} unevaluated and invalid)")


ContractValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
}, format_checker=FORMAT_CHECKER)
"""Draft 2020-12 with every pattern-consulting keyword on RE2."""


def _refuse_to_fetch(uri: str):
    """``retrieve`` of the registry: a template's schema never loads anything from outside itself."""
    raise NoSuchResource(ref=uri)


NO_FETCH_REGISTRY: Registry = Registry(retrieve=_refuse_to_fetch)


def compile_validator(schema: dict) -> DataValidator:
    """The validator of a template's ``data``: local references only, RE2 patterns, local formats."""
    return ContractValidator(schema, registry=NO_FETCH_REGISTRY, format_checker=FORMAT_CHECKER)


# --- upload checks ------------------------------------------------------------------------------------

Node = tuple[tuple, dict, str | None]
"""A subschema: its path inside the schema, its contents, and its base URI (from enclosing ``$id``s;
``None`` below an ``$id`` that is not a URI reference)."""


def _join(base: str | None, reference: str) -> str | None:
    """``reference`` resolved against ``base``; ``None`` when either is not a URI (``http://[x``)."""
    if base is None:
        return None
    try:
        joined = urljoin(base, reference)
        urlsplit(joined)  # urljoin lets some malformed authorities through; urlsplit does not
        return joined
    except ValueError:
        return None


def _subschemas(node: Any, path: tuple = (), base: str | None = "") -> Iterator[Node]:
    """Every subschema the validator can reach by keyword, outermost first."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get("$id"), str):
        base = _join(base, node["$id"])
    yield path, node, base
    for key, value in node.items():
        if key in _SCHEMA_IN_VALUE:
            yield from _subschemas(value, (*path, key), base)
        elif key in _SCHEMAS_IN_LIST and isinstance(value, list):
            for index, item in enumerate(value):
                yield from _subschemas(item, (*path, key, index), base)
        elif key in _SCHEMAS_IN_MAP and isinstance(value, dict):
            for name, item in value.items():
                yield from _subschemas(item, (*path, key, name), base)


def _problem(path: tuple, message: str) -> dict[str, str]:
    return {"path": "schema" + pointer(path), "message": message}


def _identity_problems(schema: dict, nodes: list[Node]) -> Iterator[dict[str, str]]:
    """Only draft 2020-12 (the one dialect the validator implements), and ``$id``s that are URIs."""
    for path, node, base in nodes:
        if "$schema" in node and node["$schema"] not in (DIALECT, DIALECT + "#"):
            yield _problem((*path, "$schema"), f"$schema must be {DIALECT!r} (or left out), "
                                               f"not {node['$schema']!r}")
        if base is None and "$id" in node:
            yield _problem((*path, "$id"), f"$id {node['$id']!r} is not a URI reference")


def _pattern_problems(schema: dict, nodes: list[Node]) -> Iterator[dict[str, str]]:
    """Every ``pattern`` and ``patternProperties`` key must compile under RE2, within the caps."""
    count = 0
    for path, node, _ in nodes:
        found = [((*path, "pattern"), node["pattern"])] if isinstance(node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), dict):
            found += [((*path, "patternProperties", p), p) for p in node["patternProperties"]]
        for where, pattern in found:
            count += 1
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                yield _problem(where, str(exc))
    if count > MAX_PATTERNS:
        yield _problem((), f"the schema has {count} patterns; the limit is {MAX_PATTERNS}")


_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=FORMAT_CHECKER,
                                       registry=NO_FETCH_REGISTRY)


def _metaschema_problems(schema: dict, nodes: list[Node]) -> Iterator[dict[str, str]]:
    error = best_match(_META_VALIDATOR.iter_errors(schema))
    if error is not None:
        yield _problem(tuple(error.absolute_path), f"not valid JSON Schema 2020-12: {error.message}")


def _reference_problems(schema: dict, nodes: list[Node]) -> Iterator[dict[str, str]]:
    """Resolve every reference against the document alone; the registry refuses to fetch."""
    resolver = NO_FETCH_REGISTRY.resolver_with_root(DRAFT202012.create_resource(schema))
    for path, node, base in nodes:
        for keyword in _REFERENCES:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                target = _join(base, ref)
                if target is None:
                    raise NoSuchResource(ref=ref)
                resolver.lookup(target)
            except (Unresolvable, ValueError):
                yield _problem((*path, keyword), f"{keyword} {ref!r} does not point inside this schema; only "
                                                 "references within the same document (#/$defs/..., anchors, "
                                                 "$id of embedded subschemas) are allowed, nothing is fetched")


_CHECKS = (("schema must be JSON Schema 2020-12", _identity_problems),
           ("schema has patterns the service cannot run in linear time", _pattern_problems),
           ("schema is not valid JSON Schema 2020-12", _metaschema_problems),
           ("schema has references that point outside itself", _reference_problems))


def check_schema(schema: Any) -> None:
    """Refuse, before anything is stored, a schema the service would not evaluate safely.

    Raises:
        Unprocessable: not an object; ``$schema`` other than 2020-12; a pattern RE2 refuses or too
        many; not valid 2020-12; a reference leaving the document. Each entry of ``errors`` names
        the JSON pointer inside the schema (``schema/properties/code/pattern``).
    """
    if not isinstance(schema, dict):
        raise Unprocessable("schema must be a JSON object", errors=[{"path": "schema", "message": "not an object"}])
    nodes = list(_subschemas(schema))
    for headline, check in _CHECKS:
        problems = list(check(schema, nodes))
        if problems:
            raise Unprocessable(f"{headline}: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5]),
                                errors=problems)
