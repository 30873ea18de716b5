"""RFC 6901 JSON pointers: how every error names the place in a request it is about."""

from __future__ import annotations

from collections.abc import Iterable


def pointer(parts: Iterable[object]) -> str:
    """The JSON pointer of a path of keys and indexes (``("a", 0, "b/c")`` → ``/a/0/b~1c``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
