"""Job-end callbacks: a receiver on loopback gets the signed job document, retried until it answers.

A real ``http.server`` receiver runs in a thread on 127.0.0.1; real ``wenshu worker`` processes
(started with ``WENSHU_WEBHOOK_ALLOW_PRIVATE=1`` so loopback is allowed) deliver to it. They use
their own queue and key prefix, so the session's workers (which refuse private addresses) never
take these jobs. The refusals go through the API with default settings and send no traffic.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import queue
import uuid

import pytest
from docx import Document
from receiver import receiver_fixture

from conftest import start_workers, stop_process_tree

pytestmark = pytest.mark.e2e

SECRET = "s3cret"
receiver = receiver_fixture()
second_receiver = receiver_fixture("second_receiver")


@pytest.fixture(scope="module")
def hook_settings(settings):
    return settings.with_(queue=f"wenshu-webhooks-{uuid.uuid4().hex[:6]}", key_prefix="wenshu-webhooks",
                          webhook_allow_private=True, webhook_secret=SECRET)


@pytest.fixture(scope="module")
def hook_workers(hook_settings):
    proc = start_workers(hook_settings, 1, WENSHU_WEBHOOK_ALLOW_PRIVATE="1", WENSHU_WEBHOOK_SECRET=SECRET)
    yield proc
    stop_process_tree(proc)


@pytest.fixture(scope="module")
def hook_client(hook_settings, hook_workers):
    from service.app import create_app

    return create_app(hook_settings).test_client()


def invoice_sample(client) -> dict:
    response = client.get("/v1/templates/invoice/sample")
    assert response.status_code == 200
    return response.get_json()


def signature_of(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def docx_with(text: str) -> bytes:
    document = Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_finished_job_posts_its_signed_document_to_the_callback(hook_client, receiver):
    body = {"template": "invoice", "data": invoice_sample(hook_client), "formats": ["pdf", "docx"],
            "callback_url": receiver.url("/hook?order=42")}
    response = hook_client.post("/v1/renders", json=body)
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]

    headers, body, _ = receiver.next()
    doc = json.loads(body)
    assert doc["id"] == job_id and doc["status"] == "finished"
    assert sorted(f["format"] for f in doc["files"]) == ["docx", "pdf"]
    assert all(f["size"] > 0 and f["url"].startswith(f"/v1/renders/{job_id}/files/") for f in doc["files"])
    assert headers["x-wenshu-signature"] == signature_of(body)
    assert headers["content-type"] == "application/json"
    # What the receiver got is what the API reports for that job.
    assert hook_client.get(f"/v1/renders/{job_id}").get_json() == doc


def test_signature_covers_the_exact_body(hook_client, receiver):
    hook_client.post("/v1/renders", json={"template": "invoice", "data": invoice_sample(hook_client),
                                          "callback_url": receiver.url()})
    headers, body, _ = receiver.next()
    tampered = body.replace(b'"finished"', b'"failed"')
    assert tampered != body
    assert headers["x-wenshu-signature"] == signature_of(body) != signature_of(tampered)
    assert headers["x-wenshu-signature"] != "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()


def test_callback_answering_500_is_retried_until_it_accepts(hook_client, receiver):
    receiver.answer(500, 500, 200)
    body = {"template": "invoice", "data": invoice_sample(hook_client), "callback_url": receiver.url()}
    response = hook_client.post("/v1/renders", json=body)
    job_id = response.get_json()["id"]

    deliveries = [receiver.next() for _ in range(3)]
    assert [status for _, _, status in deliveries] == [500, 500, 200]
    bodies = {body for _, body, _ in deliveries}
    assert len(bodies) == 1, "every retry carries the same document"
    body = bodies.pop()
    assert json.loads(body)["id"] == job_id and json.loads(body)["status"] == "finished"
    assert all(headers["x-wenshu-signature"] == signature_of(body) for headers, _, _ in deliveries)
    # Accepted: no further attempt (the next backoff would have been 8 s).
    with pytest.raises(queue.Empty):
        receiver.next(timeout=10)


def test_callback_rejected_with_4xx_is_not_retried(hook_client, receiver):
    receiver.answer(400, 200)
    body = {"template": "invoice", "data": invoice_sample(hook_client), "callback_url": receiver.url()}
    assert hook_client.post("/v1/renders", json=body).status_code == 202
    _, _, status = receiver.next()
    assert status == 400
    with pytest.raises(queue.Empty):
        receiver.next(timeout=3)  # a retry would come after 0.5 s


def test_callback_redirect_is_not_followed(hook_client, receiver, second_receiver):
    # A public URL answering 302 → http://169.254.169.254/… would otherwise reach past the SSRF
    # check; here both ends are loopback, so a followed redirect would show up at the second one.
    receiver.answer(302, 302, 302, 302, redirect_to=second_receiver.url("/internal"))
    body = {"template": "invoice", "data": invoice_sample(hook_client), "callback_url": receiver.url()}
    assert hook_client.post("/v1/renders", json=body).status_code == 202

    headers, _, status = receiver.next()
    assert (headers[":method"], status) == ("POST", 302)
    with pytest.raises(queue.Empty):
        second_receiver.next(timeout=3)  # a followed redirect arrives within milliseconds


def test_failed_job_also_calls_back_with_its_error(hook_client, receiver):
    parts = {"template": (io.BytesIO(docx_with("{{ x // zero }}")), "t.docx"), "data": '{"x": 1, "zero": 0}',
             "options": json.dumps({"callback_url": receiver.url()})}
    response = hook_client.post("/v1/renders", data=parts, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]

    headers, body, _ = receiver.next()
    doc = json.loads(body)
    assert doc["id"] == job_id and doc["status"] == "failed" and doc["files"] == []
    assert "ZeroDivisionError" in doc["error"]["detail"]
    assert headers["x-wenshu-signature"] == signature_of(body)
    assert headers.get("x-wenshu-event") == "render.failed"


# --- refusals with default settings (no WENSHU_WEBHOOK_ALLOW_PRIVATE): no request is ever sent ---

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook",
    "http://10.0.0.7/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:8080/hook",
    "http://[::1]/hook",
    "http://192.168.1.20/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[64:ff9b::7f00:1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[2002:7f00:1::1]/hook",
    "http://[2002:a00:7::1]/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "http:///no-host",
], ids=["loopback", "private-10", "link-local-metadata", "localhost", "ipv6-loopback", "private-192",
        "ipv4-mapped-loopback", "nat64-loopback", "nat64-metadata", "6to4-loopback", "6to4-private",
        "ftp", "file", "no-host"])
def test_callback_url_to_a_private_address_or_other_scheme_is_refused(app, url):
    client = app.test_client()
    before = app.extensions["wenshu"].queue.count
    response = client.post("/v1/renders", json={"template": "invoice", "data": invoice_sample(client),
                                                "callback_url": url})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert [e["path"] for e in problem["errors"]] == ["/callback_url"]
    assert app.extensions["wenshu"].queue.count <= before, "a refused render must not be queued"


def test_delivery_connects_to_the_vetted_address_not_a_fresh_lookup(receiver):
    # The URL names a host that does not resolve at all; pinned to the address the check vetted,
    # the request still reaches it, with the URL's host in the Host header. A rebinding DNS answer
    # between check and connect therefore cannot redirect the delivery.
    from core.webhooks import post_pinned

    port = receiver.server.server_address[1]
    status = post_pinned(f"http://callback.invalid:{port}/hook?x=1", b"{}", {"Content-Type": "application/json"},
                         "127.0.0.1")
    headers, body, answered = receiver.next(timeout=5)
    assert status == answered == 200
    assert headers["host"] == f"callback.invalid:{port}"
    assert body == b"{}"


def test_check_returns_only_addresses_it_vetted(settings):
    from core.errors import Unprocessable
    from core.webhooks import check_callback_url

    assert "127.0.0.1" in check_callback_url("http://127.0.0.1:9/x", settings.with_(webhook_allow_private=True))
    with pytest.raises(Unprocessable):
        check_callback_url("http://127.0.0.1:9/x", settings)


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:4700::1111", True), ("64:ff9b::5db8:d70e", True), ("2002:5db8:d70e::1", True),
    ("127.0.0.1", False), ("::ffff:10.1.2.3", False), ("64:ff9b::c0a8:101", False), ("64:ff9b:1::a00:1", False),
    ("2002:c0a8:101::1", False), ("2001:0:4136:e378:8000:63bf:80ff:fffe", False), ("fe80::1%eth0", False),
])
def test_addresses_wrapping_a_private_ipv4_are_not_public(address, public):
    from core.webhooks import is_public_address

    assert is_public_address(address) is public
