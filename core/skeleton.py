"""A data skeleton from a template's variables: a JSON Schema draft and a sample to start from.

A template author who has just written ``{{ candidate.name }}`` and a ``{%tr for i in
salary_items %}`` row should not have to type the JSON that fills it. From the variable trie
(:mod:`core.variables`) this derives a JSON Schema (draft 2020-12: an object per object, an array
of objects per loop, a string per printed value, a number for values used in arithmetic) and a
sample with one item per list and the path itself as each placeholder, so a preview shows where
every value lands.
"""

from __future__ import annotations

from typing import Any

from .variables import ITEMS, Trie, join

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def skeleton(root: Trie) -> dict[str, Any]:
    """``{"schema": JSON Schema 2020-12, "sample": data}`` for the variables in ``root``."""
    schema = {"$schema": DIALECT, **_schema(root)}
    schema["type"] = "object"
    schema.setdefault("properties", {})
    return {"schema": schema, "sample": _sample(root, ()) or {}}


def _schema(trie: Trie) -> dict[str, Any]:
    kind = trie.kind
    if kind == "list":
        return {"type": "array", "items": _schema(trie.children[ITEMS])}
    if kind == "object":
        return {"type": "object",
                "properties": {name: _schema(child) for name, child in sorted(trie.children.items())}}
    return {"type": "number"} if trie.numeric else {"type": "string"}


def _sample(trie: Trie, path: tuple[str, ...]) -> Any:
    kind = trie.kind
    if kind == "list":
        return [_sample(trie.children[ITEMS], (*path, ITEMS))]
    if kind == "object":
        return {name: _sample(child, (*path, name)) for name, child in sorted(trie.children.items())}
    # 1, not 0: a template that divides by the value must not fail on its own skeleton
    return 1 if trie.numeric else join(path)
