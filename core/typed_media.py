"""The grammar of the typed values that draw: ``$qr``, ``$barcode`` and ``$seal`` (charts: typed_chart).

Like core/typed_values.py this is plain checking, run by the API before queueing and by the worker
before it draws (worker/codes.py, worker/seal.py): every string is bounded (a QR code of megabytes
would be a denial of service, not a document), every size is millimetres in a sane range, and the
errors name the JSON pointer of the offending value (``/data/code/$barcode/data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.typed_common import check_text, decoded_data, invalid, refuse_unknown, shown

QR_KEYS = frozenset({"data", "error", "size_mm"})
QR_LEVELS = ("L", "M", "Q", "H")
"""Error-correction levels: about 7, 15, 25 and 30 % of the symbol may be lost and still read."""
QR_MAX_DATA = 1000
"""Characters of QR data: no page needs more."""
QR_MAX_BYTES = {"L": 2953, "M": 2331, "Q": 1663, "H": 1273}
"""Bytes a version-40 QR symbol holds at each level: UTF-8 beyond this cannot be encoded."""
BARCODE_KEYS = frozenset({"data", "type", "width_mm", "height_mm", "text"})
BARCODE_TYPES = ("code128", "ean13")
CODE128_MAX = 80
"""Characters of a Code 128 symbol: beyond this no scanner reads it at a page's width."""
SEAL_KEYS = frozenset({"data", "width_mm", "height_mm", "offset_x_mm", "offset_y_mm", "behind"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CODE_MM = (5, 300)
OFFSET_MM = 600
"""An anchored image may move this many millimetres from its paragraph (an A3 page is 420 long)."""


@dataclass(frozen=True)
class CheckedQr:
    data: str
    error: str
    size_mm: float


@dataclass(frozen=True)
class CheckedBarcode:
    data: str
    type: str
    width_mm: float
    height_mm: float
    text: bool


@dataclass(frozen=True)
class CheckedSeal:
    """A PNG placed over (or behind) the text at an offset from its paragraph, moving nothing."""

    raw: bytes
    width_mm: float
    height_mm: float | None
    offset_x_mm: float
    offset_y_mm: float
    behind: bool
    path: tuple  # where the PNG's data sits, for the worker's header check


def check_mm(spec: dict, key: str, path: tuple, default: float | None, low: float, high: float) -> float | None:
    """``spec[key]`` as millimetres within [low, high] (``default`` when absent)."""
    value = spec.get(key, default)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(path + (key,), f"{key} must be a number of millimetres from {low:g} to {high:g}, "
                                     f"not {shown(value)}")
    return float(value)


def check_string(spec: dict, key: str, path: tuple, limit: int, what: str) -> str:
    """A required, non-empty string of at most ``limit`` characters a Word part can hold."""
    value = spec.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise invalid(path + (key,), f"{what} must be a non-empty string of at most {limit} characters")
    check_text(value, path + (key,))
    return value


def check_qr(spec: Any, path: tuple) -> CheckedQr:
    """``{"data": "…", "error": "M", "size_mm": 30}``: the data encoded as bytes of UTF-8."""
    if not isinstance(spec, dict):
        raise invalid(path, "$qr needs {\"data\": \"…\"} (optional error L/M/Q/H and size_mm)")
    refuse_unknown(spec, QR_KEYS, path, "$qr")
    data = check_string(spec, "data", path, QR_MAX_DATA, "$qr data")
    error = spec.get("error", "M")
    if error not in QR_LEVELS:
        raise invalid(path + ("error",), f"error must be one of {', '.join(QR_LEVELS)}, not {shown(error)}")
    if len(data.encode()) > QR_MAX_BYTES[error]:
        raise invalid(path + ("data",), f"$qr data is {len(data.encode())} bytes of UTF-8; a QR code at error "
                                        f"level {error} holds at most {QR_MAX_BYTES[error]}")
    return CheckedQr(data, error, check_mm(spec, "size_mm", path, 30, *CODE_MM))


def ean13_digits(data: str, path: tuple) -> str:
    """12 digits (the check digit is computed) or 13 whose last is the right check digit."""
    if not (data.isascii() and data.isdigit() and len(data) in (12, 13)):
        raise invalid(path, f"an EAN-13 barcode takes 12 or 13 digits, not {shown(data)}")
    odd, even = sum(int(d) for d in data[0:12:2]), sum(int(d) for d in data[1:12:2])
    check = str((10 - (odd + 3 * even) % 10) % 10)
    if len(data) == 13 and data[12] != check:
        raise invalid(path, f"the EAN-13 check digit of {data[:12]} is {check}, not {data[12]}")
    return data[:12] + check


def check_barcode(spec: Any, path: tuple) -> CheckedBarcode:
    """``{"data": "…", "type": "code128"|"ean13", "width_mm", "height_mm", "text": true}``."""
    if not isinstance(spec, dict):
        raise invalid(path, "$barcode needs {\"data\": \"…\", \"type\": \"code128\" or \"ean13\"}")
    refuse_unknown(spec, BARCODE_KEYS, path, "$barcode")
    kind = spec.get("type", "code128")
    if kind not in BARCODE_TYPES:
        raise invalid(path + ("type",), f"type must be one of {', '.join(BARCODE_TYPES)}, not {shown(kind)}")
    data = check_string(spec, "data", path, CODE128_MAX, "$barcode data")
    if kind == "ean13":
        data = ean13_digits(data, path + ("data",))
    elif not (data.isascii() and data.isprintable()):
        raise invalid(path + ("data",), "a Code 128 barcode takes printable ASCII characters only")
    text = spec.get("text", True)
    if not isinstance(text, bool):
        raise invalid(path + ("text",), f"text must be true or false, not {shown(text)}")
    return CheckedBarcode(data, kind, check_mm(spec, "width_mm", path, 50, *CODE_MM),
                          check_mm(spec, "height_mm", path, 15, *CODE_MM), text)


def check_seal(spec: Any, path: tuple) -> CheckedSeal:
    """``{"data": "<base64 PNG>", "width_mm": 40, "offset_x_mm": 0, "offset_y_mm": 0, "behind": false}``."""
    raw = decoded_data(spec, path, "$seal", "{\"data\": \"<base64 PNG>\", \"width_mm\": …}")
    refuse_unknown(spec, SEAL_KEYS, path, "$seal")
    if not raw.startswith(PNG_SIGNATURE):
        raise invalid(path + ("data",), "$seal data must be a PNG (a seal needs its transparency)")
    behind = spec.get("behind", False)
    if not isinstance(behind, bool):
        raise invalid(path + ("behind",), f"behind must be true or false, not {shown(behind)}")
    return CheckedSeal(raw, check_mm(spec, "width_mm", path, 40, *CODE_MM),
                       check_mm(spec, "height_mm", path, None, *CODE_MM),
                       check_mm(spec, "offset_x_mm", path, 0, -OFFSET_MM, OFFSET_MM),
                       check_mm(spec, "offset_y_mm", path, 0, -OFFSET_MM, OFFSET_MM), behind, path + ("data",))
