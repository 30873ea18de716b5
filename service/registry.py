"""The template registry: bundled templates from ``templates/`` plus uploads, all in Redis.

A version identifies the whole bundle — the .docx bytes *and* its contract (schema, rules,
sample, title, formats) — so a new schema alone makes a new version, identical uploads are a
no-op, and a job always renders against the exact contract it was validated with. Versions are
immutable. Workers read the blobs from Redis, so an upload on one host renders on a worker host
that never saw the file.

Bundled templates are seeded by an explicit, idempotent step (:meth:`Registry.seed_bundled`, run
at API start and by ``wenshu seed``) that never moves ``latest`` off a user's upload.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Conflict, NotFound, Unprocessable
from core.formats import FORMATS
from core.stores import TemplateStore, now_iso
from core.variables import paths as variable_paths

from .contracts import DataValidator, check_schema, compile_validator
from .lint import lint_docx
from .rules import validate_rules
from .template_checks import check_template
from .validation import validate_data

log = logging.getLogger("wenshu.registry")

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
RESERVED_NAMES = frozenset({"lint"})
"""Names that would collide with routes under /v1/templates/."""


VERSION_PATTERN = re.compile(r"^[0-9a-f]{12}$")


def version_of(docx: bytes) -> str:
    """Content address of an ad-hoc .docx (no contract): its whole SHA-256, in hex.

    The bytes are stored under it for every client's jobs to fetch, so it must not collide: 12 hex
    digits (48 bits, as registered versions are shown) can be matched by a crafted .docx in about a
    GPU-day of hashing, and the forgery would then replace a common form in other clients' renders.
    """
    return hashlib.sha256(docx).hexdigest()


def bundle_version(docx: bytes, contract: dict[str, Any]) -> str:
    """Version of a registered template: first 12 hex of SHA-256 over the .docx and its contract.

    Encoding: 8-byte big-endian length + .docx bytes, then 8-byte length + canonical JSON
    (sorted keys, compact, UTF-8) of ``contract``. Length prefixes keep the two fields from
    running into each other; canonical JSON makes key order and whitespace irrelevant.
    """
    canonical = json.dumps(contract, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256()
    for part in (docx, canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:12]


def check_version(version: str, where: str) -> None:
    """Refuse a version that is not 12 hex digits (before it becomes part of a Redis key)."""
    if not VERSION_PATTERN.match(version):
        raise NotFound(f"{version!r} is not a template version (versions are 12 hex digits)",
                       errors=[{"path": where, "message": "not a version: expected 12 hex digits"}])



TITLE_MAX = 200


def _check_title_and_formats(title: Any, formats: Any) -> None:
    """A title is a short string and formats a list of known ones: both end up in every job."""
    if title is not None and (not isinstance(title, str) or len(title) > TITLE_MAX):
        raise Unprocessable(f"the template title must be a string of at most {TITLE_MAX} characters",
                            errors=[{"path": "meta/title", "message": "not a short string"}])
    if formats is not None and (not isinstance(formats, list)
                                or not all(isinstance(f, str) and f in FORMATS for f in formats)):
        raise Unprocessable(f"the template formats must be a list of {sorted(FORMATS)}",
                            errors=[{"path": "meta/formats", "message": f"not a list of {sorted(FORMATS)}"}])

@dataclass
class TemplateVersion:
    """One resolved template version and its contract (with its schema compiled once)."""

    name: str
    version: str
    schema: dict | None
    rules: list
    meta: dict
    validator: DataValidator | None = None

    def __post_init__(self) -> None:
        if self.schema and self.validator is None:
            self.validator = compile_validator(self.schema)


CONTRACT_CACHE_ENTRIES = 256
"""Resolved template versions an API process keeps (a version's contract never changes)."""


class Registry:
    """Registers, resolves and lists templates."""

    def __init__(self, store: TemplateStore, bundled_dir: Path, rule_timeout: float | None = None) -> None:
        self.store = store
        self.rule_timeout = rule_timeout
        self.bundled_dir = bundled_dir
        self.bundled_names = {p.parent.name for p in bundled_dir.glob("*/template.docx")}
        self._seeded = False
        self._seeding = threading.RLock()
        self._contracts: dict[tuple, TemplateVersion] = {}

    def seed_bundled(self) -> list[dict[str, Any]]:
        """Store every bundled template's current version; idempotent, safe to run concurrently.

        A bundled version becomes the latest only if the name has no latest yet or its latest is
        itself bundled (an older release being upgraded); an upload stays the latest. Versions
        already stored are left alone, so replicas of different releases never flip ``latest``
        back and forth. Also moves versions stored under the old key layout. Returns what it did
        per template: name, version, created, latest.
        """
        with self._seeding:
            moved = self.store.migrate_legacy_layout()
            if moved:
                log.info("moved %d template versions to the current key layout", moved)
            report = []
            for folder in sorted(self.bundled_dir.glob("*/template.docx")):
                name = folder.parent.name
                version, created = self._register_folder(folder.parent)
                latest = (self.store.latest(name) or {}).get("version")
                report.append({"name": name, "version": version, "created": created, "latest": latest == version})
            self._seeded = True
            return report

    def ensure_bundled(self) -> None:
        """Seed on first use when seeding at start-up could not reach Redis (cheap afterwards).

        Locked, so a burst of first requests seeds once instead of each request seeding.
        """
        if self._seeded:
            return
        with self._seeding:
            if not self._seeded:
                self.seed_bundled()

    def _register_folder(self, folder: Path) -> tuple[str, bool]:
        def load(name: str, default: Any = None) -> Any:
            path = folder / name
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default

        meta = load("meta.json", {})
        return self.register(folder.name, (folder / "template.docx").read_bytes(), schema=load("schema.json"),
                             rules=load("rules.json", []), sample=load("sample.json"),
                             title=meta.get("title"), formats=meta.get("formats"), bundled=True)

    def register(self, name: str, docx: bytes, *, schema: Any = None, rules: Any = None, sample: Any = None,
                 title: str | None = None, formats: list[str] | None = None,
                 bundled: bool = False) -> tuple[str, bool]:
        """Check and store one version; return (version, created).

        An identical bundle (same bytes, same contract) is already stored and was checked then:
        it answers at once with created=False and changes nothing.

        Raises:
            Unprocessable: bad name, unsafe or broken .docx, invalid schema/rules, a sample that
            breaks its own contract.
        """
        if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
            raise Unprocessable(f"template name {name!r} must match {NAME_PATTERN.pattern}",
                                errors=[{"path": "name", "message": "invalid template name"}])
        rules = rules or []
        _check_title_and_formats(title, formats)
        title, formats = title or name, formats or list(FORMATS)
        version = bundle_version(docx, {"schema": schema, "rules": rules, "sample": sample,
                                        "title": title, "formats": formats})
        if self.store.exists(name, version):
            return version, False
        lint = check_template(docx)
        check_contract(schema, rules, rule_timeout=self.rule_timeout)
        if sample is not None:
            validate_data(sample, schema, rules, pointer_prefix="/sample", rule_timeout=self.rule_timeout)
        meta = {"name": name, "title": title, "formats": formats,
                "variables": lint["variables"], "variable_tree": lint["variable_tree"],
                "bundled": bundled, "created_at": now_iso()}
        created = self.store.put_version(name, version, docx, schema, rules, sample, meta)
        return version, created

    def resolve(self, name: str, version: str | None = None, where: str = "/template_version") -> TemplateVersion:
        """The requested (or latest) version of a template; ``where`` names the version's origin
        in errors (``/template_version`` in a render request, ``?version`` in a query).

        Raises:
            NotFound: no such template or version, or a version that is not 12 hex digits.
        """
        self.ensure_bundled()
        if version is not None:
            check_version(version, where)
        latest = self.store.latest(name)
        if latest is None and name in self.bundled_names:
            # A bundled name missing from Redis means Redis lost its data (restarted empty):
            # seed again rather than answer 404 until the API restarts. Idempotent and cheap.
            self.seed_bundled()
            latest = self.store.latest(name)
        if latest is None:
            raise NotFound(f"no template named {name!r}; GET /v1/templates lists them",
                           errors=[{"path": "/template", "message": "unknown template"}])
        version = version or latest["version"]
        meta_raw = self.store.json_field(name, version, "meta")
        if meta_raw is None:
            raise NotFound(f"template {name!r} has no version {version!r}; GET /v1/templates/{name} lists them",
                           errors=[{"path": where, "message": "unknown version"}])
        # created_at tells a version apart from the same bytes deleted and registered anew.
        key = (name, version, meta_raw.get("created_at"))
        cached = self._contracts.get(key)
        if cached is None:
            cached = TemplateVersion(name, version, self.store.json_field(name, version, "schema"),
                                     self.store.json_field(name, version, "rules") or [], meta_raw)
            if len(self._contracts) >= CONTRACT_CACHE_ENTRIES:
                self._contracts.clear()
            self._contracts[key] = cached
        return cached

    def list(self) -> list[dict[str, Any]]:
        self.ensure_bundled()
        return [{"name": name, "version": meta["version"], "title": meta.get("title", name),
                 "formats": meta.get("formats", list(FORMATS))}
                for name, meta in sorted(self.store.all_latest().items())]

    def describe(self, name: str) -> dict[str, Any]:
        tv = self.resolve(name)
        return {"name": name, "version": tv.version, "title": tv.meta.get("title", name),
                "formats": tv.meta.get("formats", list(FORMATS)), "versions": self.store.versions(name),
                "variables": tv.meta.get("variables", []), "schema": tv.schema, "rules": tv.rules,
                "bundled": tv.meta.get("bundled", False), **self._variable_tree(tv)}

    def _variable_tree(self, tv: TemplateVersion) -> dict[str, Any]:
        """The nested variables; a version stored before they were kept is linted again for them."""
        nested = tv.meta.get("variable_tree")
        if nested is None:  # kept on the cached version, so this lint runs once per process
            docx = self.store.field(tv.name, tv.version, "docx")
            nested = tv.meta["variable_tree"] = lint_docx(docx)["variable_tree"]
        return {"variable_tree": nested, "variable_paths": variable_paths(nested)}

    def delete(self, name: str) -> None:
        self.ensure_bundled()
        if name in self.bundled_names:
            raise Conflict(f"{name!r} is bundled with the service and cannot be deleted")
        if not self.store.delete(name):
            raise NotFound(f"no template named {name!r}")


def check_contract(schema: Any, rules: Any, *, rule_timeout: float | None = None) -> None:
    """Refuse an unsafe or invalid schema (see ``contracts.check_schema``), or malformed rules."""
    if schema is not None:
        check_schema(schema)
    validate_rules(rules, timeout=rule_timeout)
