"""The grammar of the finishing options: ``options.watermark`` and ``options.pdf``.

The JSON Schemas below are part of the render request's own schema (service/validation.py), so a
bad value is a 422 naming its pointer (``/options/pdf/permissions/0``) before anything is queued;
:func:`check_finish_options` adds what a schema cannot say (PDF/A forbids encryption; permissions
need an owner password). The worker reads the checked options through :func:`watermark_of` and
:func:`pdf_of` (worker/watermark.py, worker/pdf_post.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest
from core.formats import PDFA_LEVELS

PERMISSIONS = ("print", "copy", "modify")
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 128}
TEXT_FIELD = {"type": "string", "maxLength": 500}
LANGUAGE_FIELD = {"type": "string", "maxLength": 35, "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"}
"""A BCP 47 tag (zh-CN, en-GB, zh-Hant-TW): the PDF's /Lang and the document's default language."""
WATERMARK_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "^[^\\u0000-\\u001f]+$"},
        "opacity": {"type": "number", "minimum": 0.05, "maximum": 1},
        "angle": {"type": "number", "minimum": -90, "maximum": 90},
        "size": {"type": "number", "minimum": 8, "maximum": 200},
        "color": {"type": "string", "pattern": "^#?[0-9A-Fa-f]{6}$"},
    },
}
SIGN_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "visible": {"type": "boolean"},
        "reason": {"type": "string", "maxLength": 200},
        "location": {"type": "string", "maxLength": 200},
        "page": {"type": "integer", "minimum": 1, "maximum": 10000},
        "box_mm": {"type": "array", "minItems": 4, "maxItems": 4,
                   "items": {"type": "number", "minimum": 0, "maximum": 2000}},
    },
}
PDF_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "pdfa": {"enum": list(PDFA_LEVELS)},
        "user_password": PASSWORD,
        "owner_password": PASSWORD,
        "permissions": {"type": "array", "uniqueItems": True, "items": {"enum": list(PERMISSIONS)}},
        "metadata": {"type": "object", "additionalProperties": False, "properties": {
            "title": TEXT_FIELD, "author": TEXT_FIELD, "subject": TEXT_FIELD, "keywords": TEXT_FIELD,
            "language": LANGUAGE_FIELD}},
        "sign": SIGN_SCHEMA,
    },
}
DEFAULT_BOX_MM = (120.0, 15.0, 70.0, 25.0)
"""A visible signature's box: x, y from the page's bottom-left corner, width, height."""


@dataclass(frozen=True)
class CheckedWatermark:
    text: str
    opacity: float = 0.15
    angle: float = 45.0
    size_pt: float = 72.0
    color: str = "808080"


@dataclass(frozen=True)
class CheckedSign:
    visible: bool = False
    reason: str = ""
    location: str = ""
    page: int = 1
    box_mm: tuple[float, float, float, float] = DEFAULT_BOX_MM


@dataclass(frozen=True)
class CheckedPdf:
    pdfa: str | None = None
    user_password: str | None = None
    owner_password: str | None = None
    permissions: tuple[str, ...] = PERMISSIONS
    metadata: tuple[tuple[str, str], ...] = ()
    sign: CheckedSign | None = None

    @property
    def encrypted(self) -> bool:
        return bool(self.user_password or self.owner_password)


def refusal(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{message} at {path}", errors=[{"path": path, "message": message}])


def check_finish_options(options: dict[str, Any] | None) -> None:
    """What the schemas cannot say about ``options`` (already schema-valid); 422 naming the field."""
    pdf = (options or {}).get("pdf") or {}
    encrypting = "user_password" in pdf or "owner_password" in pdf
    if pdf.get("pdfa") and encrypting:
        field = "user_password" if "user_password" in pdf else "owner_password"
        raise refusal(f"/options/pdf/{field}", "PDF/A forbids encryption: ask for pdfa or a password, not both")
    if "permissions" in pdf and "owner_password" not in pdf:
        raise refusal("/options/pdf/permissions", "permissions are enforced by an owner_password: give one")
    if "sign" in pdf and encrypting:
        raise refusal("/options/pdf/sign", "a signed PDF is not encrypted here: ask for sign or a password")
    sign = pdf.get("sign") or {}
    if pdf.get("pdfa") and sign.get("visible"):
        raise refusal("/options/pdf/sign/visible", "a visible signature's stamp is set in a PDF base font, which "
                                                  "PDF/A forbids (fonts must be embedded): sign PDF/A invisibly")
    if "box_mm" in sign and not sign.get("visible"):
        raise refusal("/options/pdf/sign/box_mm", "box_mm places a visible signature: set visible to true")


def check_signing_available(options: dict[str, Any] | None, sign_p12: str) -> None:
    """A signature asked of a service without a certificate is the client's 422, before queueing."""
    if "sign" in ((options or {}).get("pdf") or {}) and not sign_p12:
        raise refusal("/options/pdf/sign", "this service has no signing certificate (WENSHU_SIGN_P12 is not set)")


def watermark_of(options: dict[str, Any] | None) -> CheckedWatermark | None:
    mark = (options or {}).get("watermark")
    if not mark:
        return None
    return CheckedWatermark(mark["text"], float(mark.get("opacity", 0.15)), float(mark.get("angle", 45)),
                            float(mark.get("size", 72)), mark.get("color", "808080").lstrip("#").upper())


def pdf_of(options: dict[str, Any] | None) -> CheckedPdf:
    pdf = (options or {}).get("pdf") or {}
    sign = pdf.get("sign")
    return CheckedPdf(
        pdf.get("pdfa"), pdf.get("user_password"), pdf.get("owner_password"),
        tuple(pdf.get("permissions", PERMISSIONS)), tuple(sorted((pdf.get("metadata") or {}).items())),
        None if sign is None else CheckedSign(bool(sign.get("visible", False)), sign.get("reason", ""),
                                              sign.get("location", ""), int(sign.get("page", 1)),
                                              tuple(sign.get("box_mm", DEFAULT_BOX_MM))))
