"""Result files in a directory or an S3 bucket, through the whole API, rendered by a worker group that
shares nothing with the API but Redis and the store (separate processes; S3 served by moto_server,
the S3-compatible server that installs here from the package registries).

Each store's stack runs with WENSHU_RESULT_TTL=8 so that expiry is real: the job's document
expires, the worker pool's sweep removes its files, and the job's URLs answer 410.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from redis import Redis

from conftest import private_redis, start_workers, stop_process_tree
from core.errors import ConfigError, WenshuError
from core.keys import Keys
from core.result_stores import FsResultStore, RedisResultStore, build_result_store
from core.settings import Settings
from helpers import assert_problem, free_port
from worker.result_sweep import documents_exist

TTL = 8
BUCKET = "wenshu-results"
FILENAME = "发票 2026-第1号"


def moto_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free loopback port, with the results bucket."""
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            moto_client(endpoint).create_bucket(Bucket=BUCKET)
            break
        except Exception:  # noqa: BLE001 - not listening yet
            assert proc.poll() is None and time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.2)
    yield endpoint
    proc.terminate()
    proc.wait(10)


def store_settings(kind: str, tmp: Path, endpoint: str | None) -> dict:
    if kind == "fs":
        return {"result_store": "fs", "result_dir": tmp / "results"}
    return {"result_store": "s3", "s3_bucket": BUCKET, "s3_endpoint": endpoint, "s3_access_key": "test",
            "s3_secret_key": "test", "result_dir": tmp / "not-shared"}


def worker_env(private) -> dict[str, str]:
    """What the worker group is told: the same Redis and store, nothing else (env vars only)."""
    env = {"WENSHU_RESULT_TTL": str(TTL), "WENSHU_RESULT_STORE": private.result_store}
    if private.result_store == "fs":
        env["WENSHU_RESULT_DIR"] = str(private.result_dir)
    else:
        env.update(WENSHU_S3_BUCKET=BUCKET, WENSHU_S3_ENDPOINT=private.s3_endpoint, WENSHU_S3_ACCESS_KEY="test",
                   WENSHU_S3_SECRET_KEY="test", WENSHU_RESULT_DIR=str(private.result_dir.parent / "worker-own"))
    return env


@pytest.fixture(scope="module", params=["fs", "s3"])
def stack(request, tmp_path_factory, settings):
    """(settings, API client) on a Redis of its own, with a worker group in separate processes."""
    kind = request.param
    endpoint = request.getfixturevalue("s3_endpoint") if kind == "s3" else None
    tmp = tmp_path_factory.mktemp(f"store-{kind}")
    with private_redis(tmp_path_factory, settings, f"store-{kind}-{uuid.uuid4().hex[:6]}", result_ttl=TTL,
                       **store_settings(kind, tmp, endpoint)) as private:
        workers = start_workers(private, 1, **worker_env(private))
        try:
            from service.app import create_app

            yield private, create_app(private).test_client()
        finally:
            stop_process_tree(workers)


def stored_objects(private, job_id: str) -> list[str]:
    """What the store holds for one job (files in its folder, or object keys under it)."""
    if private.result_store == "fs":
        folder = Path(private.result_dir) / job_id
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    listing = moto_client(private.s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix=f"{private.key_prefix}/{job_id}/")
    return [obj["Key"] for obj in listing.get("Contents", [])]


def render(api, **extra) -> dict:
    sample = api.get("/v1/templates/invoice/sample").get_json()
    response = api.post("/v1/renders?wait=60", json={"template": "invoice", "data": sample, "formats": ["docx"],
                                                     "filename": FILENAME, **extra})
    doc = response.get_json()
    assert response.status_code == 200 and doc["status"] == "finished", doc
    return doc


def docx_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return package.read("word/document.xml").decode()


@pytest.mark.e2e
def test_a_file_rendered_by_another_process_group_downloads_from_the_store_and_not_from_redis(stack):
    private, api = stack
    doc = render(api)
    meta = doc["files"][0]
    response = api.get(meta["url"])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_data()
    assert hashlib.sha256(data).hexdigest() == meta["sha256"] and int(response.headers["Content-Length"]) == len(data)
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert "WS-2024-00127" in docx_xml(data)  # the sample's invoice number, filled in
    assert len(stored_objects(private, doc["id"])) == 1
    redis = Redis.from_url(private.redis_url)
    assert not list(redis.scan_iter(match=Keys(private.key_prefix).file("*", "*"))), "file bytes in Redis"
    # ?download on the render itself comes from the store too
    again = api.get(f"/v1/renders/{doc['id']}?download=docx")
    assert again.status_code == 200 and again.get_data() == data


@pytest.mark.e2e
def test_deleting_a_render_removes_its_files_from_the_store(stack):
    private, api = stack
    doc = render(api)
    assert stored_objects(private, doc["id"])
    assert api.delete(f"/v1/renders/{doc['id']}").status_code == 204
    assert stored_objects(private, doc["id"]) == []
    body = assert_problem(api.get(doc["files"][0]["url"]), 410)
    assert body["reason"] == "deleted"


@pytest.mark.e2e
def test_an_expired_render_loses_its_files_to_the_sweep_and_answers_410(stack):
    private, api = stack
    doc = render(api)
    assert stored_objects(private, doc["id"])
    deadline = time.monotonic() + 90  # TTL 8 s, then the sweep's grace (8 s) and interval (2 s)
    while stored_objects(private, doc["id"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stored_objects(private, doc["id"]) == [], "the pool did not sweep the expired job's files"
    for url in (doc["files"][0]["url"], f"/v1/renders/{doc['id']}"):
        assert assert_problem(api.get(url), 410)["reason"] == "expired"


@pytest.mark.e2e
def test_a_hostile_file_name_in_a_download_url_finds_nothing(stack):
    private, api = stack
    doc = render(api)
    for name in ("../../../etc/passwd", "..%2F..%2Fx", f"../{doc['id']}/{doc['files'][0]['name']}"):
        assert_problem(api.get(f"/v1/renders/{doc['id']}/files/{name}"), 404)


@pytest.fixture()
def presigning(stack):
    """(settings, a client of an API on the S3 stack that answers downloads with presigned redirects)."""
    from service.app import create_app

    private, _ = stack
    return private, create_app(private.with_(s3_presign=True)).test_client()


@pytest.mark.e2e
@pytest.mark.parametrize("stack", ["s3"], indirect=True)  # presigning is an S3 feature
def test_with_presigning_a_download_redirects_to_a_url_that_serves_the_file(presigning):
    private, presigning = presigning
    doc = render(presigning)
    response = presigning.get(doc["files"][0]["url"])
    assert response.status_code == 302 and response.headers["Location"].startswith(private.s3_endpoint)
    assert response.headers["Cache-Control"] == "no-store"
    with urllib.request.urlopen(response.headers["Location"], timeout=30) as served:
        data = served.read()
        assert "filename*=UTF-8''" in served.headers["Content-Disposition"]
    assert hashlib.sha256(data).hexdigest() == doc["files"][0]["sha256"]


# --- the directory store on its own: hostile names, sweeping, settings ----------------------------


HOSTILE_NAMES = ["../../escape.pdf", "/etc/passwd", "a/../../b.docx", "..", ".", "x\x00y.pdf", "名" * 300 + ".pdf",
                 "..\\..\\win.pdf", "~/.ssh/authorized_keys", "a" * 5000]


def test_hostile_file_names_stay_inside_the_directory_and_read_back(tmp_path):
    root = tmp_path / "results"
    store = FsResultStore(root)
    for i, name in enumerate(HOSTILE_NAMES):
        store.put("0" * 32, name, f"file {i}".encode())
    for i, name in enumerate(HOSTILE_NAMES):
        assert store.open("0" * 32, name).read() == f"file {i}".encode()
        assert store.exists("0" * 32, name)
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(everything) == len(HOSTILE_NAMES)
    assert all(p.parent == root / ("0" * 32) for p in everything), everything
    store.delete("0" * 32, HOSTILE_NAMES)
    assert list(tmp_path.rglob("*")) == [root]


@pytest.mark.parametrize("job_id", ["../x", "", "a/b", ".", "..", "x" * 65, "/abs", "a\x00"])
def test_a_job_id_that_could_name_a_path_is_refused(tmp_path, job_id):
    store = FsResultStore(tmp_path / "results")
    with pytest.raises(WenshuError):
        store.put(job_id, "a.pdf", b"x")
    with pytest.raises(WenshuError):
        store.open(job_id, "a.pdf")
    assert list(tmp_path.rglob("*")) == [tmp_path / "results"]


def test_the_sweep_removes_only_old_folders_of_jobs_without_a_document(tmp_path):
    store = FsResultStore(tmp_path, grace=60)
    for job_id in ("expired", "alive", "young"):
        store.put(job_id, "a.pdf", b"x")
    old = time.time() - 120
    for job_id in ("expired", "alive"):
        os.utime(tmp_path / job_id, (old, old))
    asked = []

    def has_document(ids):
        asked.extend(ids)
        return [job_id == "alive" for job_id in ids]

    assert store.sweep(has_document) == 1
    assert sorted(asked) == ["alive", "expired"]  # the young folder is not even asked about
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alive", "young"]


def test_store_settings_are_checked_at_start_with_clear_messages(tmp_path):
    with pytest.raises(ConfigError) as bad:
        Settings.from_env({"WENSHU_RESULT_STORE": "nfs"})
    assert "WENSHU_RESULT_STORE must be one of redis, fs, s3, not 'nfs'" in bad.value.detail
    with pytest.raises(ConfigError) as bad:
        Settings.from_env({"WENSHU_RESULT_STORE": "s3", "WENSHU_S3_ACCESS_KEY": "k"})
    assert "requires WENSHU_S3_BUCKET" in bad.value.detail and "WENSHU_S3_SECRET_KEY" in bad.value.detail
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError) as bad:
        build_result_store(Settings(result_store="fs", result_dir=tmp_path / "file" / "results"), None)
    assert "WENSHU_RESULT_DIR" in bad.value.detail
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError) as bad:
        build_result_store(Settings(result_store="s3", s3_bucket="b", s3_endpoint=closed), None)
    assert "WENSHU_S3_BUCKET='b' is not usable at " + closed in bad.value.detail


def test_the_sweep_keeps_files_filed_under_a_live_job_or_batch(settings):
    redis, keys = Redis.from_url(settings.redis_url), Keys(f"sweep-{uuid.uuid4().hex[:6]}")
    redis.set(keys.job("j1"), "{}", ex=60)
    redis.set(keys.batch("b1"), "{}", ex=60)
    assert documents_exist(redis, keys, ["j1", "b1", "gone"]) == [True, True, False]


def copy_stores(tmp_path, settings, endpoint):
    from core.s3_store import S3ResultStore

    prefix = f"copy-{uuid.uuid4().hex[:6]}"
    yield FsResultStore(tmp_path / "results")
    yield RedisResultStore(Redis.from_url(settings.redis_url), Keys(prefix), ttl=60)
    yield S3ResultStore(moto_client(endpoint), BUCKET, prefix)


def test_a_copy_stays_inside_each_store_and_outlives_its_source(tmp_path, settings, s3_endpoint):
    for store in copy_stores(tmp_path, settings, s3_endpoint):
        store.put("a" * 32, "报告.pdf", b"%PDF-1.7 the bytes")
        assert store.copy("a" * 32, "b" * 32, "报告.pdf"), store.kind
        store.delete("a" * 32, ["报告.pdf"])
        assert store.open("b" * 32, "报告.pdf").read() == b"%PDF-1.7 the bytes", store.kind
        assert not store.copy("a" * 32, "c" * 32, "报告.pdf") and not store.exists("c" * 32, "报告.pdf"), store.kind


def test_only_a_download_gets_a_presigned_url_everyone_else_reads_the_bytes(s3_endpoint):
    from core.s3_store import S3ResultStore

    store = S3ResultStore(moto_client(s3_endpoint), BUCKET, f"link-{uuid.uuid4().hex[:6]}", presign=True)
    store.put("a" * 32, "a.pdf", b"%PDF bytes")
    assert store.open("a" * 32, "a.pdf").read() == b"%PDF bytes"  # a batch ZIP, page images, the cache
    linked = store.open("a" * 32, "a.pdf", link=True)
    assert linked.url.startswith(s3_endpoint) and linked.stream is None
    with urllib.request.urlopen(linked.url, timeout=30) as served:
        assert served.read() == b"%PDF bytes"


# --- presigned downloads: every download path, as the contract declares ---------------------------

PRESIGNED_DOWNLOADS = [("/v1/renders/{job_id}/files/{name}", "get"), ("/v1/renders", "post"),
                       ("/v1/renders/download", "post"), ("/v1/renders/{job_id}", "get"),
                       ("/v1/batches/{batch_id}/files/{name}", "get")]


def fetch_presigned(response, private) -> bytes:
    """The bytes behind a 302 to a presigned URL (fetched without the API's key, as a browser would)."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(private.s3_endpoint)
    assert response.headers["Cache-Control"] == "no-store"
    with urllib.request.urlopen(response.headers["Location"], timeout=30) as served:
        assert "filename*=UTF-8''" in served.headers["Content-Disposition"]
        return served.read()


def test_the_contract_declares_the_presigned_redirect_on_every_download():
    from service.ops import OPENAPI_FILE

    paths = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))["paths"]
    for path, method in PRESIGNED_DOWNLOADS:
        assert paths[path][method]["responses"]["302"] == {"$ref": "#/components/responses/PresignedRedirect"}, path


@pytest.mark.e2e
@pytest.mark.parametrize("stack", ["s3"], indirect=True)
def test_with_presigning_download_on_a_render_redirects_too(presigning):
    private, presigning = presigning
    sample = presigning.get("/v1/templates/invoice/sample").get_json()
    body = {"template": "invoice", "data": sample, "formats": ["docx"], "filename": FILENAME}
    posted = presigning.post("/v1/renders?wait=60&download=docx", json=body)
    assert "WS-2024-00127" in docx_xml(fetch_presigned(posted, private))
    direct = presigning.post("/v1/renders/download?format=docx&wait=60", json=body)
    assert "WS-2024-00127" in docx_xml(fetch_presigned(direct, private))
    doc = render(presigning)
    again = presigning.get(f"/v1/renders/{doc['id']}?download=docx")
    assert hashlib.sha256(fetch_presigned(again, private)).hexdigest() == doc["files"][0]["sha256"]


@pytest.mark.e2e
@pytest.mark.parametrize("stack", ["s3"], indirect=True)
def test_with_presigning_batch_files_redirect_and_are_never_read_by_the_api(presigning):
    private, presigning = presigning
    sample = presigning.get("/v1/templates/invoice/sample").get_json()
    records = [{"data": dict(sample, invoice_no=f"PRESIGN-{i}")} for i in (1, 2)]
    accepted = presigning.post("/v1/batches", json={"template": "invoice", "records": records, "formats": ["docx"],
                                                    "outputs": ["files", "zip"], "filename": "批量"})
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    deadline = time.monotonic() + 120
    while (doc := presigning.get(accepted.headers["Location"]).get_json())["status"] == "running":
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert doc["status"] == "finished", doc
    by_name = {f["name"]: f for f in doc["files"]}
    fetched = {name: fetch_presigned(presigning.get(meta["url"]), private) for name, meta in by_name.items()}
    for name, data in fetched.items():
        assert hashlib.sha256(data).hexdigest() == by_name[name]["sha256"], name
    assert "PRESIGN-2" in docx_xml(fetched["批量-002.docx"])
    with zipfile.ZipFile(io.BytesIO(fetched["批量.zip"])) as archive:
        assert archive.namelist() == ["批量-001.docx", "批量-002.docx"]


# --- the expiry index: a sweep costs what expired, not what is stored -----------------------------


def indexed_store(kind: str, tmp_path, settings, endpoint: str):
    """(store with an index due at once, the index, ListObjectsV2 prefixes it asked for, ids on file)."""
    from core.result_index import ExpiryIndex
    from core.s3_store import S3ResultStore

    prefix = f"index-{uuid.uuid4().hex[:6]}"
    index = ExpiryIndex(Redis.from_url(settings.redis_url), f"{prefix}:result-expiry", keep_seconds=0,
                        recheck_seconds=3600)
    if kind == "fs":
        store = FsResultStore(tmp_path / "results", grace=0, index=index)
        return store, index, None, lambda: sorted(p.name for p in (tmp_path / "results").iterdir())
    client, listed = moto_client(endpoint), []
    client.meta.events.register("provide-client-params.s3.ListObjectsV2",
                                lambda params, **_: listed.append(params["Prefix"]))
    store = S3ResultStore(client, BUCKET, prefix, grace=0, index=index)

    def on_file() -> list[str]:
        found = moto_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/").get("Contents", [])
        return sorted({obj["Key"].split("/")[1] for obj in found})

    return store, index, listed, on_file


@pytest.mark.parametrize("kind", ["fs", "s3"])
def test_the_sweep_takes_expired_jobs_from_the_index_and_scans_the_store_only_when_asked(
        kind, tmp_path, settings, s3_endpoint):
    store, index, listed, on_file = indexed_store(kind, tmp_path, settings, s3_endpoint)
    store.put("expired", "a.pdf", b"x")
    store.put("expired", "a.docx", b"y")
    store.put("alive", "a.pdf", b"x")
    unindexed = store.index
    store.index = None  # a file from before the index existed
    store.put("legacy", "a.pdf", b"x")
    store.index = unindexed
    if kind == "fs":
        old = time.time() - 60
        os.utime(tmp_path / "results" / "legacy", (old, old))
    alive = lambda ids: [i == "alive" for i in ids]  # noqa: E731
    if listed is not None:
        listed.clear()
    assert store.sweep(alive, full=False) == 1
    assert on_file() == ["alive", "legacy"]
    if listed is not None:  # deleted by the keys the index holds: nothing listed, least of all the prefix
        assert listed == []
    assert index.due() == [] and len(index) == 1  # "alive" is looked at again later; "expired" left it
    assert store.sweep(alive, full=True) == 1  # the fallback scan finds what the index never knew
    assert on_file() == ["alive"]


def test_a_job_is_in_the_index_before_its_file_is_in_the_store(tmp_path, settings):
    from core.result_stores import expiry_index, stored_name

    private = settings.with_(key_prefix=f"note-{uuid.uuid4().hex[:6]}", result_store="fs",
                             result_dir=tmp_path / "results", result_ttl=100)
    store = build_result_store(private, Redis.from_url(settings.redis_url))
    store.put("b" * 32, "x.pdf", b"x")
    store.copy("b" * 32, "c" * 32, "x.pdf")
    index = expiry_index(private, Redis.from_url(settings.redis_url))
    scores = dict(Redis.from_url(settings.redis_url).zrange(index.key, 0, -1, withscores=True))
    assert set(scores) == {f"{job}/{stored_name('x.pdf')}".encode() for job in ("b" * 32, "c" * 32)}
    # due once the document has expired (TTL after the last write) plus the grace (min(300, TTL))
    assert all(time.time() + 195 < score <= time.time() + 200 for score in scores.values())


def test_one_sweep_a_day_also_scans_the_whole_store_the_others_read_only_the_index(tmp_path, settings):
    from worker.result_sweep import ResultSweeper

    prefix, redis = f"daily-{uuid.uuid4().hex[:6]}", Redis.from_url(settings.redis_url)
    private = settings.with_(key_prefix=prefix, result_store="fs", result_dir=tmp_path / "results", result_ttl=1)
    sweeper = ResultSweeper(redis, private, build_result_store(private, redis))

    def unindexed(job_id: str) -> Path:
        """A job's folder the index never knew (written before it existed), old enough to go."""
        folder = tmp_path / "results" / job_id
        folder.mkdir()
        (folder / "a.pdf").write_bytes(b"x")
        os.utime(folder, (time.time() - 60, time.time() - 60))
        return folder

    def next_interval() -> None:
        redis.delete(f"{prefix}:result-sweep")
        sweeper.next = 0

    first = unindexed("first")
    assert sweeper.maybe_sweep() == 1 and not first.exists()  # the day's first sweep scans
    second = unindexed("second")
    next_interval()
    assert sweeper.maybe_sweep() == 0 and second.exists()  # the next ones read the index only
    redis.delete(f"{prefix}:result-sweep-full")  # a day later
    next_interval()
    assert sweeper.maybe_sweep() == 1 and not second.exists()
