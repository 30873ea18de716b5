"""Ad-hoc templates whose exact bytes already passed the checks are not checked again.

An integrator that POSTs the same .docx with every ad-hoc render paid the safety check and the
lint (unzip, parse every part, compile every tag) each time (issue #12). The verdict depends only
on the bytes and on the checking code, so it is remembered in Redis under the SHA-256 of both:
:data:`CHECK_VERSION` hashes the source of every module that decides it, so a deployment with other
checks never trusts an old verdict. Only passes are remembered; a refused template is checked (and
refused, with its errors) every time. Redis being unavailable only means checking again. Each API
process also keeps the last few thousand keys it saw pass, so a repeat costs no Redis round trip.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from importlib.metadata import version
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from core.keys import Keys

from .template_checks import check_template

_ROOT = Path(__file__).resolve().parent.parent
CHECK_SOURCES = ("core/docx_safety.py", "core/docx_package.py", "core/docx_parts.py", "service/lint.py",
                 "service/template_checks.py", "core/sandbox.py", "core/filters.py", "core/variables.py",
                 "core/skeleton.py")
"""The modules whose code decides whether a template passes: every module of ours the checks import
(the filters a tag may name, the variable walk), so a deployment that changes any of them re-checks
(tests/test_hostile_stop4_check_cache.py keeps this list complete)."""
CHECK_LIBRARIES = ("jinja2", "lxml", "docxtpl")
"""The libraries whose versions decide it too (Jinja's parser, docxtpl's patch_xml, lxml's XML parser)."""
CHECK_VERSION = hashlib.sha256(b"".join((_ROOT / name).read_bytes() for name in CHECK_SOURCES)
                               + " ".join(map(version, CHECK_LIBRARIES)).encode()).hexdigest()[:16]


def check_digest(docx: bytes) -> str:
    """The cache key's digest: the checking code's version and the template's bytes."""
    return hashlib.sha256(CHECK_VERSION.encode() + b"\0" + docx).hexdigest()


def check_template_once(redis: Redis, keys: Keys, docx: bytes, ttl: int) -> None:
    """:func:`~service.template_checks.check_template`, skipped for bytes that already passed it.

    Raises:
        TemplateRejected, TemplateError: as ``check_template`` (never from the cache).
    """
    key = keys.checked(check_digest(docx))
    if _seen(key):  # this process saw them pass: not even a Redis round trip
        return
    try:
        if redis.exists(key):
            _remember(key)
            return
    except RedisError:
        pass
    check_template(docx)
    _remember(key)
    try:
        redis.set(key, b"1", ex=ttl)
    except RedisError:
        pass


_PASSED: OrderedDict[str, None] = OrderedDict()
"""Keys of bytes this API process saw pass, most recent last (a verdict never changes for its key)."""
PASSED_KEPT = 4096
_LOCK = threading.Lock()  # waitress serves requests from several threads


def _seen(key: str) -> bool:
    with _LOCK:
        if key not in _PASSED:
            return False
        _PASSED.move_to_end(key)
        return True


def _remember(key: str) -> None:
    with _LOCK:
        _PASSED[key] = None
        while len(_PASSED) > PASSED_KEPT:
            _PASSED.popitem(last=False)
