"""``/studio``: the template authors' page — lint, variable tree, preview, save, version diff.

The page and its assets are static and open (like ``/docs``); every API call it makes carries the
bearer key the author types in (kept in ``sessionStorage``, sent as an ``Authorization`` header,
never in a URL), so the studio can do nothing the key could not do with curl. Strict CSP: scripts
and styles come from ``/studio/static/`` only, nothing inline, no ``eval``; user data is shown with
``textContent`` only (see studio_static/studio.js).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

from core.errors import NotFound

from .csp import harden

bp = Blueprint("studio", __name__)
STATIC_DIR = Path(__file__).with_name("studio_static")
ASSETS = frozenset({"studio.js", "studio.css"})


@bp.get("/studio")
def studio_page():
    return harden(send_from_directory(STATIC_DIR, "studio.html", mimetype="text/html", max_age=0))


@bp.get("/studio/static/<name>")
def studio_asset(name: str):
    if name not in ASSETS:
        raise NotFound(f"the studio has no asset {name!r}")
    return harden(send_from_directory(STATIC_DIR, name, max_age=0))
