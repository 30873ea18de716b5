"""The query parameters of a render (``?wait``, ``?download``), checked before anything is queued.

The contract bounds ``wait`` to 0..60 seconds and ``download`` to a format the request asked for;
a request outside them is refused with a 422 naming the parameter (``?wait``, ``?download``), not
queued and rendered only to be refused afterwards. Every problem is reported at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import BadRequest, InvalidRequest
from core.formats import FORMATS

MAX_WAIT_PARAM = 60.0
"""The contract's upper bound of ``?wait`` (service/openapi.json); WENSHU_MAX_WAIT may hold less."""


@dataclass(frozen=True)
class RenderQuery:
    """What the query asks for: seconds to hold the request (None: do not wait) and a file to answer with."""

    wait: float | None
    download: str | None


def read_wait(args: Mapping[str, str], name: str = "wait") -> tuple[float | None, list[dict[str, str]]]:
    """``?wait`` as seconds, and the problems with it (out of 0..60); 400 when it is not a number."""
    raw = args.get(name)
    if raw is None:
        return None, []
    try:
        seconds = float(raw)
    except ValueError:
        raise BadRequest(f"?{name} must be a number of seconds (0 to {MAX_WAIT_PARAM:g})",
                         errors=[{"path": f"?{name}", "message": "not a number"}]) from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_WAIT_PARAM:
        return None, [{"path": f"?{name}", "message": f"must be between 0 and {MAX_WAIT_PARAM:g} seconds, got {raw}"}]
    return seconds, []


def download_errors(download: str, formats: Sequence[str] | None, where: str = "?download") -> list[dict[str, str]]:
    """Problems with a requested download format: unknown, or not among the formats rendered."""
    if download not in FORMATS:
        return [{"path": where, "message": f"unknown format {download!r}; one of {', '.join(FORMATS)}"}]
    if formats is not None and download not in formats:
        return [{"path": where, "message": f"{download!r} is not among the requested formats "
                                           f"({', '.join(formats)}); add it to formats"}]
    return []


def check_render_query(args: Mapping[str, str], formats: Sequence[str] | None, *,
                       download_needs_wait: bool) -> RenderQuery:
    """The checked query of a render request; one 422 listing every problem.

    ``formats`` are the formats the job renders (None: not known, nothing to compare with).
    ``download_needs_wait``: on POST, ``?download`` without ``?wait`` would be ignored silently,
    so it is refused instead.
    """
    wait, errors = read_wait(args)
    download = args.get("download")
    if download is not None:
        errors += download_errors(download, formats)
        if download_needs_wait and "wait" not in args:
            errors.append({"path": "?download", "message": "only together with ?wait (seconds to hold the request)"})
    if errors:
        raise InvalidRequest("the query is not usable: " + "; ".join(f"{e['path']}: {e['message']}" for e in errors),
                             errors=errors)
    return RenderQuery(wait=wait, download=download)


def check_download_route(args: Mapping[str, str], formats: Sequence[str]) -> RenderQuery:
    """The query of ``POST /v1/renders/download``: ``?format`` (required) and ``?wait`` (default 60)."""
    wait, errors = read_wait(args)
    fmt = args.get("format")
    if fmt is None:
        errors.append({"path": "?format", "message": f"required: the file to answer with ({', '.join(FORMATS)})"})
    else:
        errors += download_errors(fmt, formats, where="?format")
    if errors:
        raise InvalidRequest("the query is not usable: " + "; ".join(f"{e['path']}: {e['message']}" for e in errors),
                             errors=errors)
    return RenderQuery(wait=MAX_WAIT_PARAM if wait is None else wait, download=fmt)
