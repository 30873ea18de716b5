"""Batches as integrators use them: many invoices in one request, one merged PDF with an outline.

A module of its own: a private Redis, an API with bearer keys and a small WENSHU_MAX_BATCH_RECORDS,
one real worker (with LibreOffice) allowed to call back to a loopback receiver. Batches are kept
to 3–4 records; the 200-invoice run is bench/batch.py.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile

import pytest
from pypdf import PdfReader
from receiver import receiver_fixture
from redis import Redis
from rq import Queue

from conftest import private_redis, start_workers, stop_process_tree
from core.batch_doc import BatchDocument, BatchPlan, BatchStore, batch_queue_name
from core.keys import Keys
from helpers import assert_problem, docx_with, pdf_text, put_template, with_key

pytestmark = pytest.mark.e2e

KEY, OTHER_KEY = "batch-key-0123456789", "batch-key-other-9876"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_RECORDS = 4
BATCH_SECONDS = 180
"""Generous bound for a batch of a few records to end (render + convert each, then assembly)."""


@pytest.fixture(scope="module")
def batch_settings(settings, tmp_path_factory):
    with private_redis(tmp_path_factory, settings, "batches", api_keys=(KEY, OTHER_KEY), max_batch_records=MAX_RECORDS,
                       webhook_allow_private=True) as s:
        yield s


@pytest.fixture(scope="module")
def batch_app(batch_settings):
    from service.app import create_app

    proc = start_workers(batch_settings, 1, WENSHU_WEBHOOK_ALLOW_PRIVATE="1")
    yield create_app(batch_settings)
    stop_process_tree(proc)


@pytest.fixture(scope="module")
def api(batch_app):
    """A client that sends the API key with every request."""
    return with_key(batch_app, KEY)


receiver = receiver_fixture(scope="module")


@pytest.fixture(scope="module")
def invoice(api) -> dict:
    response = api.get("/v1/templates/invoice/sample", headers=AUTH)
    assert response.status_code == 200
    return response.get_json()


def invoices(sample: dict, n: int) -> list[dict]:
    return [{"data": dict(sample, invoice_no=f"WS-BATCH-{i:03d}")} for i in range(1, n + 1)]


def post(api, body: dict, **headers: str):
    return api.post("/v1/batches", json=body, headers=AUTH | headers)


def ended(api, batch_id: str) -> dict:
    deadline = time.monotonic() + BATCH_SECONDS
    while time.monotonic() < deadline:
        doc = api.get(f"/v1/batches/{batch_id}", headers=AUTH).get_json()
        if doc["status"] in ("finished", "failed"):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not end within {BATCH_SECONDS} s: {doc}")


def download(api, doc: dict, name: str) -> bytes:
    [meta] = [f for f in doc["files"] if f["name"] == name]
    response = api.get(meta["url"], headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


@pytest.fixture(scope="module")
def invoice_batch(api, invoice, receiver) -> tuple[dict, dict]:
    """Three invoices with every output, outline titled by invoice number; (POST answer, ended doc)."""
    body = {"template": "invoice", "records": invoices(invoice, 3), "outputs": ["files", "zip", "merged_pdf"],
            "outline_title": "/invoice_no", "filename": "发票", "callback_url": receiver.url("/batch")}
    response = post(api, body)
    assert response.status_code == 202, response.get_data(as_text=True)
    accepted = response.get_json()
    return accepted, ended(api, accepted["id"])


def test_merged_pdf_has_each_record_with_its_outline_entry(api, invoice_batch):
    _, doc = invoice_batch
    merged = PdfReader(io.BytesIO(download(api, doc, "发票.pdf")))
    assert [item.title for item in merged.outline] == ["WS-BATCH-001", "WS-BATCH-002", "WS-BATCH-003"]
    starts = [merged.get_destination_page_number(item) for item in merged.outline]
    assert starts == sorted(starts) and starts[0] == 0 and len(merged.pages) >= 3
    text = pdf_text(download(api, doc, "发票.pdf"))
    assert text.index("WS-BATCH-001") < text.index("WS-BATCH-002") < text.index("WS-BATCH-003")


def test_progress_counts_every_record(invoice_batch):
    accepted, doc = invoice_batch
    assert accepted["status"] == "running" and accepted["total"] == 3 and accepted["done"] == 0
    assert (doc["status"], doc["done"], doc["failed"], doc["total"]) == ("finished", 3, 0, 3)
    assert doc["failures"] == [] and doc["finished_at"]


def test_zip_holds_one_pdf_per_record(api, invoice_batch):
    _, doc = invoice_batch
    archive = zipfile.ZipFile(io.BytesIO(download(api, doc, "发票.zip")))
    assert archive.namelist() == ["发票-001.pdf", "发票-002.pdf", "发票-003.pdf"]
    assert "WS-BATCH-002" in pdf_text(archive.read("发票-002.pdf"))


def test_each_record_file_downloads_on_its_own(api, invoice_batch):
    _, doc = invoice_batch
    records = [f for f in doc["files"] if "record" in f]
    assert [(f["name"], f["record"]) for f in records] == [(f"发票-00{i + 1}.pdf", i) for i in range(3)]
    assert "WS-BATCH-003" in pdf_text(download(api, doc, "发票-003.pdf"))


def test_the_webhook_comes_once_when_the_batch_ends(invoice_batch, receiver):
    _, doc = invoice_batch
    headers, body, _ = receiver.next()
    assert headers["x-wenshu-event"] == "batch.finished"
    sent = json.loads(body)
    assert sent["id"] == doc["id"] and sent["done"] == 3 and sent["total"] == 3
    time.sleep(2)  # a second delivery would be on its way by now
    assert receiver.received.empty()


def test_a_failing_record_is_listed_and_the_others_finish(api):
    # Passes every check at POST (no contract), fails at render time for n = 0.
    upload = put_template(api, "divider", docx_with("Record {{ name }}", "Quotient {{ 100 // n }}"))
    assert upload.status_code in (200, 201), upload.get_data(as_text=True)
    body = {"template": "divider", "outputs": ["merged_pdf"], "outline_title": "name",
            "records": [{"data": {"name": "alpha", "n": 4}}, {"data": {"name": "zero", "n": 0}},
                        {"data": {"name": "gamma", "n": 5}}]}
    response = post(api, body)
    assert response.status_code == 202, response.get_data(as_text=True)
    doc = ended(api, response.get_json()["id"])
    assert (doc["status"], doc["done"], doc["failed"]) == ("finished", 2, 1)
    [failure] = doc["failures"]
    assert failure["index"] == 1 and failure["pointer"] == "/records/1"
    assert "ZeroDivisionError" in failure["error"]["detail"] and failure["error"]["status"] == 422
    merged = PdfReader(io.BytesIO(download(api, doc, "divider.pdf")))
    assert [item.title for item in merged.outline] == ["alpha", "gamma"]
    assert "Quotient 25" in pdf_text(download(api, doc, "divider.pdf"))


def test_records_are_checked_before_anything_is_queued(api, invoice, batch_settings):
    records = invoices(invoice, 3)
    del records[1]["data"]["currency"]
    records[2]["data"]["total"] = "lots"
    problem = assert_problem(post(api, {"template": "invoice", "records": records}), 422)
    paths = {e["path"] for e in problem["errors"]}
    assert "/records/1/data/currency" in paths and "/records/2/data/total" in paths
    assert not any(p.startswith("/records/0") for p in paths)
    assert "2 of 3 records" in problem["detail"]
    queue = Queue(batch_queue_name(batch_settings.queue), connection=Redis.from_url(batch_settings.redis_url))
    assert queue.count == 0


@pytest.mark.parametrize(("change", "where"), [
    ({"records": []}, "/records"),
    ({"records": [{"data": {}}] * (MAX_RECORDS + 1)}, "/records"),
    ({"outputs": ["merged_pdf"], "formats": ["docx"]}, "/outputs"),
    ({"outputs": ["tarball"]}, "/outputs/0"),
    ({"records": [{"data": {}, "extra": 1}]}, "/records/0/extra"),
    ({"outline_title": ""}, "/outline_title"),
    ({"callback_url": "file:///etc/passwd"}, "/callback_url"),
    ({"options": {"pdf": {"sign": {"reason": "x"}}}}, "/options/pdf/sign"),   # no certificate configured
])
def test_a_malformed_batch_is_refused_with_a_pointer(api, invoice, change, where):
    body = {"template": "invoice", "records": invoices(invoice, 1)} | change
    problem = assert_problem(post(api, body), 422)
    assert where in {e["path"] for e in problem["errors"]}, problem


def test_a_batch_needs_the_api_key(batch_app, invoice):
    anonymous = batch_app.test_client()
    body = {"template": "invoice", "records": invoices(invoice, 1)}
    problem = assert_problem(anonymous.post("/v1/batches", json=body), 401)
    assert problem["errors"][0]["path"] == "Authorization"
    assert_problem(anonymous.get("/v1/batches/" + "0" * 32), 401)


def test_an_unknown_batch_is_404(api):
    assert_problem(api.get("/v1/batches/" + "0" * 32), 404)
    assert_problem(api.get("/v1/batches/not-a-batch"), 404)


def test_a_file_the_batch_did_not_produce_is_404(api, invoice_batch):
    _, doc = invoice_batch
    assert_problem(api.get(f"/v1/batches/{doc['id']}/files/..%2F..%2Fetc%2Fpasswd"), 404)
    assert_problem(api.get(f"/v1/batches/{doc['id']}/files/other.pdf"), 404)


def test_a_batch_counts_as_one_job_against_the_per_key_limit(batch_settings, invoice):
    """An API with no worker on its queue: the batch stays running, and holds the key's one slot."""
    from service.app import create_app

    idle = with_key(create_app(batch_settings.with_(queue="batches-idle", max_jobs_per_key=1)), OTHER_KEY)
    body = {"template": "invoice", "records": invoices(invoice, 1)}
    assert idle.post("/v1/batches", json=body).status_code == 202
    problem = assert_problem(idle.post("/v1/batches", json=body), 429)
    assert "WENSHU_MAX_JOBS_PER_KEY=1" in problem["detail"]
    assert_problem(idle.post("/v1/renders", json={"template": "invoice", "data": invoice}), 429)


def test_the_same_idempotency_key_returns_the_same_batch(batch_settings, invoice):
    from service.app import create_app

    idle = with_key(create_app(batch_settings.with_(queue="batches-idem")), KEY)
    body = {"template": "invoice", "records": invoices(invoice, 2)}
    first = idle.post("/v1/batches", json=body, headers={"Idempotency-Key": "batch-retry-1"})
    again = idle.post("/v1/batches", json=body, headers={"Idempotency-Key": "batch-retry-1"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = dict(body, records=invoices(invoice, 1))
    problem = assert_problem(idle.post("/v1/batches", json=other, headers={"Idempotency-Key": "batch-retry-1"}), 422)
    assert problem["errors"][0]["path"] == "Idempotency-Key"


def test_the_last_record_to_end_is_told_so_exactly_once(batch_settings):
    """Eight threads end the same four records (retries included): one caller, once, gets True."""
    redis = Redis.from_url(batch_settings.redis_url)
    store = BatchStore(redis, Keys("batches-once"), 60)
    store.create(BatchDocument(id="b" * 32, template={}, formats=["pdf"], outputs=["files"], total=4,
                               created_at="now"), BatchPlan(record_ids=[], basenames=[], titles=[], basename="x"))
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def end(index: int) -> None:
        barrier.wait()
        results.append(store.record_ended("b" * 32, index, None if index else {"status": 422, "errors": []}))

    threads = [threading.Thread(target=end, args=(i % 4,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    doc = store.get("b" * 32)
    assert (doc.done, doc.failed, doc.total) == (3, 1, 4)


def test_batch_records_queued_past_the_limit_are_refused_for_now(batch_settings, invoice):
    """An API with no worker on its queue: 3 records wait; 2 more would pass WENSHU_MAX_BATCH_RECORDS=4."""
    from service.app import create_app

    idle = with_key(create_app(batch_settings.with_(queue="batches-full")), KEY)
    assert idle.post("/v1/batches", json={"template": "invoice", "records": invoices(invoice, 3)}).status_code == 202
    response = idle.post("/v1/batches", json={"template": "invoice", "records": invoices(invoice, 2)})
    problem = assert_problem(response, 429)
    assert "WENSHU_MAX_BATCH_RECORDS=4" in problem["detail"] and response.headers["Retry-After"] == "30"


def test_a_record_whose_worker_died_for_good_still_ends_the_batch(batch_settings, monkeypatch):
    """RQ's failure callback for an abandoned record (no retries left): failed, counted, assembly queued."""
    from rq.job import Job

    from core.payload import JobDocument
    from core.stores import JobStore
    from worker.batch import record_abandoned

    redis = Redis.from_url(batch_settings.redis_url)
    monkeypatch.setenv("REDIS_URL", batch_settings.redis_url)
    monkeypatch.setenv("WENSHU_KEY_PREFIX", "batches-dead")
    monkeypatch.setenv("WENSHU_QUEUE", "batches-dead")
    keys, batch_id, record_id = Keys("batches-dead"), "d" * 32, "e" * 32
    BatchStore(redis, keys, 60).create(
        BatchDocument(id=batch_id, template={}, formats=["pdf"], outputs=["files"], total=1, created_at="now"),
        BatchPlan(record_ids=[record_id], basenames=["x-001"], titles=["1"], basename="x"))
    JobStore(redis, keys, 60).create(JobDocument(id=record_id, template={}, formats=["pdf"], created_at="now",
                                                 status="started"))
    job = Job.create("worker.batch.record_job", args=({"id": record_id}, batch_id, 0), connection=redis)
    job.retries_left = 1
    record_abandoned(job, redis)  # RQ will run it again: nothing counted yet
    assert BatchStore(redis, keys, 60).get(batch_id).failed == 0
    job.retries_left = 0
    record_abandoned(job, redis)
    doc = BatchStore(redis, keys, 60).get(batch_id)
    assert (doc.failed, doc.failures[0]["pointer"]) == (1, "/records/0")
    assert "died twice" in doc.failures[0]["error"]["detail"]
    assert JobStore(redis, keys, 60).get(record_id).status == "failed"
    assert Queue("batches-dead", connection=redis).job_ids == [f"{batch_id}-assembly"]


def test_checking_records_stops_at_its_cpu_budget(api, invoice, monkeypatch):
    import service.batch_request

    monkeypatch.setattr(service.batch_request, "CHECK_BUDGET_RULE_TIMEOUTS", 0)  # spent at once
    problem = assert_problem(post(api, {"template": "invoice", "records": invoices(invoice, 3)}), 422)
    assert problem["errors"] == [{"path": "/records/0", "message": "checks stopped here"}]
    assert "fewer records" in problem["detail"] and problem["type"].endswith("/render-limit")


def test_record_file_names_are_safe_and_never_collide(batch_settings, invoice):
    """Hostile or clashing record filenames: no path survives, and no two files (nor the merged PDF) share a name."""
    from service.app import create_app

    store = BatchStore(Redis.from_url(batch_settings.redis_url), Keys("batches"), 60)

    def names(*wanted: str | None) -> list[str]:
        idle = with_key(create_app(batch_settings.with_(queue=f"batches-names-{len(wanted)}")), KEY)
        records = [dict(r, filename=n) if n else r for r, n in zip(invoices(invoice, len(wanted)), wanted, strict=True)]
        response = idle.post("/v1/batches", json={"template": "invoice", "filename": "发票", "records": records})
        assert response.status_code == 202, response.get_data(as_text=True)
        return store.plan(response.get_json()["id"]).basenames

    assert names("../../etc/passwd", "发票") == ["etc_passwd", "发票-002"]
    assert names("发票-002", None, "same", "same") == ["发票-002", "发票-002-2", "same", "发票-004"]
