"""What every typed-value grammar shares: the 422 with its pointer, and text a Word part can hold.

Split out of core/typed_values.py so the grammars of further typed values (core/typed_media.py:
$qr, $barcode, $chart, $seal) use the same helpers without an import cycle; typed_values.py
re-exports them, so existing imports keep working.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from core.errors import InvalidData
from core.pointer import pointer

# Characters XML 1.0 cannot hold at all: lxml refuses the document docxtpl builds from them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def invalid(path: tuple, message: str) -> InvalidData:
    """The 422 for a refused value: ``message`` plus the JSON pointer of where it sits."""
    return InvalidData(f"{message} at {pointer(path)}", errors=[{"path": pointer(path), "message": message}])


def shown(value: Any) -> str:
    """A short, printable rendering of a refused value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_text(text: str, path: tuple) -> None:
    """Refuse characters a Word document cannot hold (NUL, most control characters)."""
    if text.isprintable():  # the usual case, decided in C: no control character at all
        return
    found = XML_ILLEGAL.search(text)
    if found:
        raise invalid(path, f"text contains the control character U+{ord(found.group()):04X}, "
                            "which a Word document cannot hold")


def refuse_unknown(spec: dict, allowed: frozenset[str], path: tuple, what: str) -> None:
    """Refuse keys a typed value does not take (an ``anchor`` or ``target`` must not pass silently)."""
    unknown = set(spec) - allowed
    if unknown:
        raise invalid(path, f"unknown {what} option(s): {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(sorted(allowed))}")


def decoded_data(spec: Any, path: tuple, what: str, usage: str) -> bytes:
    """The base64 ``data`` of an image-carrying value (``{"data": …}``), decoded; never a URL."""
    if not isinstance(spec, dict) or not isinstance(spec.get("data"), str):
        raise invalid(path, f"{what} needs {usage} (images are data only, never URLs)")
    try:
        return base64.b64decode(spec["data"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid(path + ("data",), f"{what} data is not valid base64") from None
