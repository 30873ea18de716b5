"""The bundled templates' .docx files are generated: each one equals a fresh build of its script.

The builder scripts are the source (see each template's README). If a .docx was edited by hand,
or a script changed without re-running it, the committed bytes and the build disagree and the
template's content-addressed version would not be what its source says.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.settings import PROJECT_ROOT

BUILDERS = ["build_gov_templates.py", "build_invoice_template.py", "build_certificate_template.py"]


@pytest.mark.parametrize("script", BUILDERS)
def test_committed_template_equals_its_build(script):
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / script), "--check"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "up to date: templates/" in result.stdout


def test_every_bundled_template_has_a_builder_and_says_so_in_its_readme():
    sources = "".join((PROJECT_ROOT / "scripts" / s).read_text(encoding="utf-8") for s in BUILDERS)
    for folder in sorted((PROJECT_ROOT / "templates").iterdir()):
        readme = (folder / "README.md").read_text(encoding="utf-8")
        assert "scripts/build_" in readme, f"{folder.name}/README.md does not name its source"
        name = folder.name.rsplit("-", 1)[0] if folder.name.startswith("gov-") else folder.name
        assert name in sources, f"no builder generates {folder.name}"


def test_a_hand_edited_template_is_reported_and_not_overwritten_by_check(tmp_path):
    # --check never writes: a Word edit is reported, not silently replaced.
    target = PROJECT_ROOT / "templates" / "invoice" / "template.docx"
    original = target.read_bytes()
    probe = f"""
import sys, pathlib
sys.path.insert(0, {str(PROJECT_ROOT / 'scripts')!r})
import build_invoice_template as b
b.OUTPUT = pathlib.Path({str(tmp_path / 'edited.docx')!r})
b.OUTPUT.write_bytes(b"edited in Word")
sys.argv = ["build", "--check"]
code = b.run(b.targets(), b.OUTPUT.parent)
print(code, b.OUTPUT.read_bytes() == b"edited in Word")
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "True"], out.stderr
    assert target.read_bytes() == original
