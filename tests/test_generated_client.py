"""A client generated from the live ``/openapi.json`` does the whole flow, unpatched.

Integrators code against the contract through generated clients. This module serves the real API
over HTTP (waitress on a free port, the session's Redis and worker), fetches the document it
serves, validates it with openapi-spec-validator, generates a Python client with
openapi-python-client (pinned in pyproject) into a temporary folder, imports it, and runs the flow
an integrator would: list, describe, upload, lint, render async and poll, render with ``?wait``,
download PDF and DOCX bytes, render-and-download, an ad-hoc multipart render, errors, delete.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from docx import Document
from openapi_spec_validator import validate
from waitress import create_server

from helpers import docx_with, pdf_text

pytestmark = pytest.mark.e2e
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
NAME = "gen-client-greeting"
SCHEMA = {"type": "object", "required": ["name", "amount"], "additionalProperties": False,
          "properties": {"name": {"type": "string"}, "amount": {"type": "number"}}}
SAMPLE = {"name": "样例", "amount": 1}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def base_url(app, workers):
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    server.task_dispatcher.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def served_contract(base_url) -> dict:
    with urllib.request.urlopen(base_url + "/openapi.json", timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def generation(served_contract, tmp_path_factory) -> tuple[object, str]:
    """The generated package (imported) and what the generator printed."""
    root = tmp_path_factory.mktemp("generated")
    (root / "openapi.json").write_text(json.dumps(served_contract), encoding="utf-8")
    (root / "config.yaml").write_text("project_name_override: wenshu-client\npackage_name_override: wenshu_client\n"
                                      "post_hooks: []\n", encoding="utf-8")
    run = subprocess.run([str(GENERATOR), "generate", "--path", "openapi.json", "--config", "config.yaml",
                          "--meta", "none", "--output-path", "wenshu_client"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module("wenshu_client")
    finally:
        sys.path.remove(str(root))
    return package, run.stdout + run.stderr


@pytest.fixture(scope="module")
def gen(generation):
    package, _ = generation
    modules = {name: importlib.import_module(f"wenshu_client.{name}") for name in (
        "api.renders.create_render", "api.renders.get_render", "api.renders.get_render_file",
        "api.renders.render_download", "api.renders.delete_render", "api.templates.list_templates",
        "api.templates.get_template", "api.templates.get_template_sample", "api.templates.put_template",
        "api.templates.lint_template", "api.templates.delete_template", "models", "types")}
    return type("Generated", (), {k.rsplit(".", 1)[-1]: v for k, v in modules.items()})


@pytest.fixture(scope="module")
def api(generation, base_url):
    package, _ = generation
    client = package.Client(base_url=base_url, timeout=120, raise_on_unexpected_status=True)
    yield client
    client.get_httpx_client().close()  # its keep-alive connections would hold the server's loop open


def test_the_served_contract_is_valid_openapi(served_contract):
    validate(served_contract)  # raises with the offending place when it is not


def test_the_generator_drops_no_api_operation_or_model(generation):
    _, output = generation
    assert "Unable to process schema" not in output, output
    trips = [line for line in output.splitlines() if line.startswith("WARNING parsing") and " /v1/" in line]
    assert trips == [], output


def test_templates_listed_and_described_with_their_rules(gen, api):
    names = [t.name for t in gen.list_templates.sync(client=api)]
    assert {"invoice", "gov-info-annual-report-2021"} <= set(names)
    detail = gen.get_template.sync("gov-info-annual-report-2021", client=api)
    assert isinstance(detail, gen.models.TemplateDetail), detail
    with_for_each = [r for r in detail.rules if r.for_each]
    assert with_for_each and all(isinstance(v, list) for r in with_for_each
                                 for v in r.for_each.additional_properties.values())


def _upload(gen, api):
    body = gen.models.TemplateUpload(
        # No file_name: the generated File's default, sent as a part without a filename.
        file=gen.types.File(payload=io.BytesIO(docx_with("你好 {{ name }}，合计 {{ amount }}")), mime_type=DOCX),
        schema=json.dumps(SCHEMA), sample=json.dumps(SAMPLE, ensure_ascii=False), title="Greeting")
    return gen.put_template.sync_detailed(NAME, client=api, body=body)


def test_upload_lint_render_download_delete(gen, api):
    created = _upload(gen, api)
    assert created.status_code == 201, created.content
    assert created.parsed.name == NAME and len(created.parsed.version) == 12
    assert gen.get_template_sample.sync(NAME, client=api).additional_properties == SAMPLE

    lint = gen.lint_template.sync(client=api, body=gen.models.LintTemplateBody(
        file=gen.types.File(payload=io.BytesIO(docx_with("{{ name }} {{ broken ")), file_name="t.docx")))
    assert lint.ok is False and lint.problems[0].part == "word/document.xml", lint

    request = gen.models.RenderRequest(
        template=NAME, data=gen.models.RenderRequestData.from_dict({"name": "世界", "amount": 42}),
        formats=[gen.models.RenderRequestFormatsItem("pdf"), gen.models.RenderRequestFormatsItem("docx")],
        filename="问候-001")
    queued = gen.create_render.sync_detailed(client=api, body=request)
    assert queued.status_code == 202 and queued.parsed.status.value in ("queued", "started", "finished")
    job = queued.parsed
    deadline = time.monotonic() + 120
    while job.status.value in ("queued", "started") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = gen.get_render.sync(job.id, client=api)
    assert job.status.value == "finished", job.to_dict()

    files = {f.format_.value: f for f in job.files}
    pdf = gen.get_render_file.sync(job.id, files["pdf"].name, client=api)
    assert "你好世界，合计42" in pdf_text(pdf.payload.read()).replace(" ", "")
    docx = gen.get_render_file.sync(job.id, files["docx"].name, client=api)
    assert "你好 世界，合计 42" in [p.text for p in Document(docx.payload).paragraphs]

    assert gen.delete_render.sync_detailed(job.id, client=api).status_code == 204
    gone = gen.get_render.sync_detailed(job.id, client=api)
    assert gone.status_code == 410 and gone.parsed.to_dict()["reason"] == "deleted"
    assert gen.delete_template.sync_detailed(NAME, client=api).status_code == 204


def test_render_with_wait_and_render_download(gen, api):
    sample = gen.get_template_sample.sync("invoice", client=api).additional_properties
    request = gen.models.RenderRequest(template="invoice", data=gen.models.RenderRequestData.from_dict(sample))
    waited = gen.create_render.sync_detailed(client=api, body=request, wait=60)
    assert waited.status_code == 200 and waited.parsed.status.value == "finished", waited.content[:500]

    fmt = gen.models.RenderDownloadFormat("pdf")
    downloaded = gen.render_download.sync_detailed(client=api, body=request, format_=fmt, wait=60)
    assert downloaded.status_code == 200, downloaded.content[:500]
    assert isinstance(downloaded.parsed, gen.types.File)
    assert sample["invoice_no"] in pdf_text(downloaded.parsed.payload.read())


def test_adhoc_multipart_render(gen, api):
    body = gen.models.MultipartRenderRequest(
        template=gen.types.File(payload=io.BytesIO(docx_with("临时 {{ who }}")), file_name="adhoc.docx",
                                mime_type=DOCX),
        data=json.dumps({"who": "模板"}, ensure_ascii=False), options=json.dumps({"formats": ["pdf"]}))
    job = gen.create_render.sync(client=api, body=body, wait=60)
    assert job.status.value == "finished", job.to_dict()
    pdf = gen.get_render_file.sync(job.id, job.files[0].name, client=api)
    assert "临时模板" in pdf_text(pdf.payload.read()).replace(" ", "")


def test_errors_arrive_as_problems_with_pointers(gen, api):
    request = gen.models.RenderRequest(template="invoice", data=gen.models.RenderRequestData.from_dict({}))
    problem = gen.create_render.sync_detailed(client=api, body=request)
    assert problem.status_code == 422 and isinstance(problem.parsed, gen.models.Problem)
    paths = {e.path for e in problem.parsed.errors}
    assert {"/data/invoice_no", "/data/buyer", "/data/items"} <= paths, paths


# --- the README's curl request: works, and fails loudly -------------------------------------------

README_HOST = "http://127.0.0.1:8080"


def readme_request(base_url: str) -> str:
    """The ready-to-paste curl request of the README, aimed at this module's server."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```sh\n")[1:] if b.startswith("curl ")).split("```", 1)[0]
    assert "--fail-with-body" in block
    return block.replace(README_HOST, base_url)


def test_the_readme_request_saves_the_invoice_pdf(base_url, tmp_path):
    run = subprocess.run(["bash", "-c", readme_request(base_url)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "invoice.pdf").read_bytes().startswith(b"%PDF")


def test_the_readme_request_fails_loudly_with_the_problem(base_url, tmp_path):
    broken = readme_request(base_url).replace('"template":"invoice"', '"template":"no-such-template"')
    run = subprocess.run(["bash", "-c", broken], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 22, run.stdout + run.stderr  # curl's "HTTP error" exit; ls never runs
    problem = json.loads((tmp_path / "invoice.pdf").read_text(encoding="utf-8"))
    assert problem["status"] == 404 and "no-such-template" in problem["detail"]
