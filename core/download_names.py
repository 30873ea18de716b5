"""``Content-Disposition`` for downloads: the real name, and a plain fallback that still means something.

Browsers and curl ``-OJ`` use ``filename*=UTF-8''…`` (RFC 6266 / 5987) and get the Chinese name.
Older clients and many HTTP libraries read only the plain ``filename=``, which must be ASCII.
Dropping the characters ASCII cannot hold turns ``发票-001.pdf`` into ``-001.pdf`` and
``年度报告.pdf`` into ``.pdf``; instead, a name that lost characters becomes ``document-`` plus
what ASCII kept (``document-001.pdf``), or plain ``document.pdf``: no transliteration guesses,
and the extension is always kept. Accented Latin letters keep their base letter (NFKD).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

FALLBACK_STEM = "document"
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\", "%", ";"}


def ascii_fallback(name: str) -> str:
    """The plain ASCII ``filename=`` for ``name`` (see the module docstring)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not ext.isascii() or not ext.isalnum():
        stem, dot, ext = name, "", ""
    kept, lost = [], False
    for char in stem:
        plain = "".join(c for c in unicodedata.normalize("NFKD", char) if c in _PLAIN)
        lost |= not plain
        kept.append(plain)
    simple = "".join(kept).strip(" ._-")
    if lost or not simple:
        simple = f"{FALLBACK_STEM}-{simple}" if simple else FALLBACK_STEM
    return simple + dot + ext


def attachment(name: str) -> str:
    """``attachment; filename="<ASCII fallback>"`` plus ``filename*`` whenever the two differ."""
    fallback = ascii_fallback(name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='!#$&+^`|~')}"
