"""``Idempotency-Key`` on ``POST /v1/renders``: a retried request gets the job its first attempt made.

An API with two bearer keys on the session's Redis, served by the session's real worker. Every
test uses its own idempotency key and its own invoice number, so no two tests share a job.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from keyed_api import keyed_api

from helpers import assert_problem

pytestmark = pytest.mark.e2e

KEY_A, KEY_B = "idem-key-a-0123456789", "idem-key-b-0123456789"

keyed_app, as_key = keyed_api(KEY_A, KEY_B)


@pytest.fixture(scope="module")
def sample(keyed_app) -> dict:
    return as_key(keyed_app).get("/v1/templates/invoice/sample").get_json()


def body(sample: dict, number: str) -> dict:
    return {"template": "invoice", "formats": ["docx"], "data": dict(sample, invoice_no=number)}


def fresh() -> str:
    return uuid.uuid4().hex


def test_a_retry_with_the_same_key_gets_the_same_job(keyed_app, sample):
    api, key, request = as_key(keyed_app), fresh(), body(sample, "IDEM-1")
    first = api.post("/v1/renders", json=request, headers={"Idempotency-Key": key})
    again = api.post("/v1/renders?wait=60", json=request, headers={"Idempotency-Key": key})
    assert first.status_code == 202 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["status"] == "finished" and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    mine = [j["id"] for j in api.get("/v1/renders?limit=100").get_json()["items"]
            if j["id"] == first.get_json()["id"]]
    assert len(mine) == 1


def test_the_same_key_with_another_body_is_refused_naming_the_header(keyed_app, sample):
    api, key = as_key(keyed_app), fresh()
    assert api.post("/v1/renders", json=body(sample, "IDEM-2"), headers={"Idempotency-Key": key}).status_code == 202
    problem = assert_problem(api.post("/v1/renders", json=body(sample, "IDEM-2b"), headers={"Idempotency-Key": key}),
                             422)
    assert problem["errors"] == [{"path": "Idempotency-Key", "message": "key reused with another body"}]


@pytest.mark.parametrize("hostile", ["", "k" * 256, "with space", "semi;colon", "caf\u00e9", "del\x7f", "a,b"])
def test_a_malformed_key_is_refused_before_anything_is_queued(keyed_app, sample, hostile):
    problem = assert_problem(as_key(keyed_app).post("/v1/renders", json=body(sample, "IDEM-3"),
                                                    headers={"Idempotency-Key": hostile}), 400)
    assert problem["errors"][0]["path"] == "Idempotency-Key"


def test_the_longest_allowed_key_works(keyed_app, sample):
    key = "K" * 255
    api = as_key(keyed_app)
    first = api.post("/v1/renders", json=body(sample, "IDEM-4"), headers={"Idempotency-Key": key})
    again = api.post("/v1/renders", json=body(sample, "IDEM-4"), headers={"Idempotency-Key": key})
    assert first.status_code == 202 and again.get_json()["id"] == first.get_json()["id"]


def test_keys_belong_to_their_api_key(keyed_app, sample):
    key, request = fresh(), body(sample, "IDEM-5")
    a = as_key(keyed_app, KEY_A).post("/v1/renders", json=request, headers={"Idempotency-Key": key})
    b = as_key(keyed_app, KEY_B).post("/v1/renders", json=request, headers={"Idempotency-Key": key})
    assert a.status_code == b.status_code == 202 and a.get_json()["id"] != b.get_json()["id"]


def test_a_refused_request_gives_its_key_back(keyed_app, sample):
    api, key = as_key(keyed_app), fresh()
    broken = body(sample, "IDEM-6")
    del broken["data"]["currency"]
    assert_problem(api.post("/v1/renders", json=broken, headers={"Idempotency-Key": key}), 422)
    fixed = api.post("/v1/renders", json=body(sample, "IDEM-6"), headers={"Idempotency-Key": key})
    assert fixed.status_code == 202, fixed.get_data(as_text=True)


def test_racing_retries_make_one_job(keyed_app, sample):
    key, request = fresh(), body(sample, "IDEM-7")
    answers: list = []
    barrier = threading.Barrier(6)

    def send() -> None:
        client = as_key(keyed_app)
        barrier.wait()
        answers.append(client.post("/v1/renders", json=request, headers={"Idempotency-Key": key}))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # One request wins the claim; the others replay its job, or (while it is being accepted) get 409.
    assert all(r.status_code in (200, 202, 409) for r in answers)
    created = [r for r in answers if r.status_code == 202 and "Idempotent-Replayed" not in r.headers]
    assert len(created) == 1
    replayed = {r.get_json()["id"] for r in answers if r.headers.get("Idempotent-Replayed") == "true"}
    assert replayed <= {created[0].get_json()["id"]}
