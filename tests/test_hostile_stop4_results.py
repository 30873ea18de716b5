"""Hostile job ids and file names against the result stores, their expiry index and the download routes.

The attacker's levers: the ``filename`` of a render (any text), the ids in download URLs (any text,
percent-encoded newlines and NULs included), and other clients' files sitting in the same store and
index. Nothing may leave the store's directory, a lookup of a malformed id is a 404 problem, and a
sweep removes the files of the jobs whose document is gone and no one else's.
"""

from __future__ import annotations

import uuid

import pytest
from redis import Redis

from core.errors import WenshuError
from core.result_index import ExpiryIndex
from core.result_stores import FsResultStore, check_job_id
from helpers import assert_problem
from service import downloads

HEX = "0123456789abcdef" * 2


@pytest.mark.parametrize("job_id", [f"{HEX}\n", "abc\n", "a\r", "ａｂｃ", "abc\u200b"])
def test_a_job_id_with_a_trailing_newline_or_lookalike_characters_is_refused(job_id):
    """``$`` matches before a final newline: ``abc\n`` passed as a plain token and named a folder."""
    with pytest.raises(WenshuError):
        check_job_id(job_id)
    assert downloads.JOB_ID.match(job_id) is None  # unknown without a Redis lookup


@pytest.fixture()
def indexed(tmp_path, settings):
    """A directory store whose index makes every file due at once (re-checked an hour later)."""
    redis = Redis.from_url(settings.redis_url)
    index = ExpiryIndex(redis, f"hostile-{uuid.uuid4().hex[:8]}:result-expiry", keep_seconds=0,
                        recheck_seconds=3600)
    yield FsResultStore(tmp_path / "results", grace=0, index=index), index
    redis.delete(index.key)
    redis.close()


HOSTILE_NAMES = ["../../escape.pdf", "../victim/a.pdf", "/etc/passwd", "a/../../b.docx", "x\x00y.pdf",
                 "名" * 300 + ".pdf", "..\\..\\win.pdf", f"../{'b' * 32}/报告.pdf"]


def test_a_sweep_of_a_dead_job_with_hostile_names_removes_its_files_and_no_one_elses(indexed, tmp_path):
    store, index = indexed
    attacker, victim = "a" * 32, "b" * 32
    canary = tmp_path / "escape.pdf"
    canary.write_bytes(b"outside the store")
    store.put(victim, "报告.pdf", b"victim's report")
    store.put(victim, "a.pdf", b"victim's a")
    for name in HOSTILE_NAMES:
        store.put(attacker, name, name.encode("utf-8", "surrogatepass"))
    store.copy(victim, attacker, "报告.pdf")  # the render cache: the attacker's job reuses the victim's file
    swept = store.sweep(lambda ids: [job_id == victim for job_id in ids], full=False)
    assert swept == 1
    assert not (tmp_path / "results" / attacker).exists()
    assert store.open(victim, "报告.pdf").read() == b"victim's report"
    assert store.open(victim, "a.pdf").read() == b"victim's a"
    assert canary.read_bytes() == b"outside the store"
    left = [entry.decode() for entry in index.redis.zrange(index.key, 0, -1)]
    assert len(left) == 2 and all(entry.startswith(f"{victim}/") for entry in left)  # re-checked later


def test_the_victims_deletion_leaves_the_attackers_cached_copy_and_the_reverse(indexed):
    store, _ = indexed
    first, second = "c" * 32, "d" * 32
    store.put(first, "报告.pdf", b"shared bytes")
    store.copy(first, second, "报告.pdf")
    store.delete(first, ["报告.pdf"])
    assert store.open(second, "报告.pdf").read() == b"shared bytes"
    store.put(first, "报告.pdf", b"again")
    store.delete(second, ["报告.pdf"])
    assert store.open(first, "报告.pdf").read() == b"again"


HOSTILE_IDS = [f"{HEX}%0A", f"{HEX}%00", "..%2F..%2Fetc", "%2e%2e", "x" * 5000, "报告", f"{HEX.upper()}",
               f"{HEX}%20", "%F0%9F%98%80" * 8]


@pytest.mark.parametrize("job_id", HOSTILE_IDS)
@pytest.mark.parametrize("route", ["/v1/renders/{}", "/v1/renders/{}/files/a.pdf", "/v1/batches/{}",
                                   "/v1/renders/{}/files/..%2F..%2Fetc%2Fpasswd"])
def test_a_hostile_id_in_a_url_is_a_404_problem(app, route, job_id):
    assert_problem(app.test_client().get(route.format(job_id)), 404)


@pytest.mark.parametrize("job_id", HOSTILE_IDS)
def test_deleting_a_hostile_id_is_a_404_problem(app, job_id):
    assert_problem(app.test_client().delete(f"/v1/renders/{job_id}"), 404)


@pytest.mark.parametrize("requested, expected", [
    ("发票\u202egpj.exe", "发票_gpj.exe"),  # displayed as 发票exe.jpg with the override kept
    ("报告\u2066\u2069\u200f\u061c", "报告"),
    ("第一行\u2028第二行\u2029\x85尾", "第一行_第二行_尾"),
    ("../../etc/passwd", "etc_passwd"),
    ("年度报告.pdf", "年度报告"),
    ("\u202e\u202e", "document"),
])
def test_a_requested_file_name_loses_controls_that_would_disguise_it(requested, expected):
    name = downloads.basename(requested, "letter")
    assert name == expected
