"""The flow runs one way: ``service`` → Redis → ``worker``, both standing on ``core``.

The API must start without the rendering engine (docxtpl, unoserver, the LibreOffice supervisor),
and a worker must never load Flask: these tests import each side in a fresh interpreter and look
at what got loaded, and read every module's imports for arrows pointing the wrong way.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from core.settings import PROJECT_ROOT

ENGINE = ("docxtpl", "docx", "unoserver", "worker")
WEB = ("flask", "werkzeug", "service", "waitress")


def loaded_after(statement: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_importing_the_api_loads_no_rendering_engine():
    loaded = loaded_after("import service.app; service.app.create_app")
    assert "flask" in loaded  # the probe works
    assert not loaded & set(ENGINE), sorted(loaded & set(ENGINE))


def test_importing_the_worker_loads_no_web_framework():
    loaded = loaded_after("import worker.runner, worker.jobs")
    assert "rq" in loaded and "docxtpl" in loaded  # the probe works
    assert not loaded & set(WEB), sorted(loaded & set(WEB))


def imported_packages(package: str) -> dict[str, set[str]]:
    """For each module of ``package``: the top-level packages it imports (any depth, lazy too)."""
    found = {}
    for path in sorted((PROJECT_ROOT / package).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[f"{package}/{path.name}"] = names
    return found


@pytest.mark.parametrize(("package", "never"), [
    ("core", {"service", "worker", "cli", "flask", "docxtpl", "unoserver"}),
    ("service", {"worker", "cli", "unoserver"}),
    ("worker", {"service", "cli", "flask", "werkzeug", "waitress"}),
])
def test_imports_point_one_way(package, never):
    wrong = {module: sorted(names & never) for module, names in imported_packages(package).items() if names & never}
    assert not wrong, f"{package} must never import {sorted(never)}: {wrong}"
