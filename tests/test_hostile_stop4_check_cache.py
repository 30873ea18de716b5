"""Attacks on the ad-hoc check memo (service/check_cache.py): can a template skip checks it would fail?

The memo trusts a verdict for the SHA-256 of the template's bytes and of the checking code. A
verdict goes stale when the code that decides it changes but the version does not: the attack is a
deployment that tightens a check (drops a filter, refuses a construct) while the old "passed"
stays in Redis for the TTL. So every module of ours the checks import must be in the version.
"""

from __future__ import annotations

import ast
import io
import uuid
from pathlib import Path

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from redis import Redis

import service.check_cache as check_cache
from core.errors import TemplateError, TemplateRejected
from core.keys import Keys
from helpers import docx_with

ROOT = Path(__file__).resolve().parent.parent
WORDING_ONLY = {"core/errors.py"}
"""Imported by the checks but deciding nothing: it words refusals, and only passes are remembered."""


def _our_imports(path: str) -> set[str]:
    """The repository's .py files that ``path`` imports (absolute and relative imports)."""
    module = path.removesuffix(".py").split("/")
    found = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = (module[:-node.level] if node.level else []) + (node.module.split(".") if node.module else [])
            names = [base] + [[*base, alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        found.update("/".join(name) + ".py" for name in names if (ROOT / ("/".join(name) + ".py")).is_file())
    return found


def test_every_module_the_checks_import_is_in_the_check_version():
    seen, todo = set(), ["service/template_checks.py"]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_our_imports(path))
    assert seen - WORDING_ONLY - set(check_cache.CHECK_SOURCES) == set()


def test_the_check_version_names_the_libraries_that_parse_templates():
    assert {"jinja2", "docxtpl", "lxml"} <= set(check_cache.CHECK_LIBRARIES)


@pytest.fixture()
def store(settings):
    redis = Redis.from_url(settings.redis_url)
    yield redis, Keys(f"wenshu-hostile-{uuid.uuid4().hex[:8]}")
    redis.close()


def test_a_refused_template_is_never_remembered_as_passed_even_after_a_pass_of_similar_bytes(store):
    """The passing template and a broken one that differs by one tag: the broken one is refused
    every time, and neither Redis nor the process memory keeps a verdict for it."""
    redis, keys = store
    marker = uuid.uuid4().hex
    good, broken = docx_with(f"{{{{ name }}}} {marker}"), docx_with(f"{{{{ name }} {marker}")
    check_cache.check_template_once(redis, keys, good, ttl=60)
    for _ in range(3):
        with pytest.raises(TemplateError):
            check_cache.check_template_once(redis, keys, broken, ttl=60)
    broken_key = keys.checked(check_cache.check_digest(broken))
    assert not redis.exists(broken_key)
    assert broken_key not in check_cache._PASSED  # noqa: SLF001


def test_an_unsafe_package_is_refused_after_its_safe_twin_passed(store):
    """Same paragraphs, plus an external image link: other bytes, so no trusted verdict."""
    redis, keys = store
    marker = uuid.uuid4().hex
    check_cache.check_template_once(redis, keys, docx_with(f"{{{{ x }}}} {marker}"), ttl=60)
    document = Document()
    document.add_paragraph(f"{{{{ x }}}} {marker}")
    document.part.relate_to("http://169.254.169.254/latest/meta-data", RT.IMAGE, is_external=True)
    out = io.BytesIO()
    document.save(out)
    hostile = out.getvalue()
    with pytest.raises(TemplateRejected):
        check_cache.check_template_once(redis, keys, hostile, ttl=60)


def test_the_version_is_a_prefix_of_the_key_so_bytes_cannot_forge_another_version():
    """The key hashes version, a separator and the bytes: bytes that start like a version are
    still other input than that version with other bytes."""
    docx = docx_with("{{ x }}")
    forged = check_cache.CHECK_VERSION.encode() + b"\0" + docx
    assert check_cache.check_digest(forged) != check_cache.check_digest(docx)
