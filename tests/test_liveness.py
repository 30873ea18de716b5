"""Slow, idle and waiting clients cannot starve the API: ``/healthz`` keeps answering.

Each test drives a real ``wenshu serve`` process (its own port, the module's own Redis, no
workers, so a queued job never ends) with raw sockets, the way an attacker would: half-sent
request lines, bodies trickled a byte at a time, and more ``?wait=60`` requests than the API has
threads. Bounds on time are generous (seconds where milliseconds are expected): the assertions
are about what the clients get, not about the machine's speed.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from conftest import private_redis, stop_process_tree, worker_env
from core.settings import PROJECT_ROOT
from faultkit import wait_until
from helpers import free_port

pytestmark = [pytest.mark.e2e]

REQUEST_TIMEOUT = 2
"""WENSHU_REQUEST_TIMEOUT of the server under test: small, so the test sees slow clients cut off."""
THREADS, HELD_WAITS = 32, 16
"""The API's request threads and how many of them ``?wait=`` may hold (the defaults, spelled out)."""
MAX_BODY = 100_000
ATTACKERS = 40
ANSWER_BOUND = 10.0
"""Seconds within which an answer that should be immediate must come (generous on purpose)."""


@dataclass
class Api:
    port: int
    process: subprocess.Popen

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = ANSWER_BOUND,
                **headers: str) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=ANSWER_BOUND)


@pytest.fixture(scope="module")
def api(tmp_path_factory, settings) -> Iterator[Api]:
    with private_redis(tmp_path_factory, settings, "liveness") as env:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
            env=worker_env(env, WENSHU_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT), WENSHU_API_THREADS=str(THREADS),
                           WENSHU_MAX_HELD_WAITS=str(HELD_WAITS), WENSHU_MAX_BODY=str(MAX_BODY)),
            cwd=PROJECT_ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = Api(port, process)
        try:
            wait_until(lambda: _healthy(server), 30, "wenshu serve to answer /healthz")
            yield server
        finally:
            stop_process_tree(process)


def _healthy(api: Api) -> bool:
    try:
        return api.request("GET", "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Wait until the server closes ``sock`` (True) or ``deadline`` passes (False); it must send nothing."""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.5)
        if readable:
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                return True
            assert data == b"", f"the server answered a request it never fully got: {data[:200]!r}"
            return True
    return False


def test_half_sent_requests_neither_block_healthz_nor_stay_open(api):
    half_lines = [api.connect() for _ in range(ATTACKERS // 2)]
    for sock in half_lines:
        sock.sendall(b"GET /v1/templa")
    half_bodies = [api.connect() for _ in range(ATTACKERS // 2)]
    for sock in half_bodies:
        sock.sendall(b"POST /v1/renders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5000\r\n\r\n{\"template\": ")

    status, _, body = api.request("GET", "/healthz")
    assert status == 200, body

    deadline = time.monotonic() + REQUEST_TIMEOUT + 30
    still_open = [s for s in half_lines + half_bodies if not _closed_by_server(s, deadline)]
    assert not still_open, f"{len(still_open)} stalled connections were never closed by the server"
    for sock in half_lines + half_bodies:
        sock.close()


def test_a_request_trickled_a_byte_at_a_time_is_cut_off_at_the_request_timeout(api):
    """Never silent, so an inactivity timeout alone would keep this connection for ever."""
    sock = api.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    deadline = time.monotonic() + REQUEST_TIMEOUT + 30
    closed = False
    while not closed and time.monotonic() < deadline:
        try:
            sock.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        closed = _closed_by_server(sock, time.monotonic() + 0.3)
    sock.close()
    assert closed, "a client trickling its headers kept its connection past WENSHU_REQUEST_TIMEOUT"


def test_waits_beyond_the_held_wait_limit_answer_at_once_and_healthz_stays_up(api):
    job = _queued_job(api)
    answers: list[tuple[int, dict[str, str], dict]] = []

    def wait_on_job():
        status, headers, body = api.request("GET", f"/v1/renders/{job}?wait=60", timeout=120)
        answers.append((status, headers, json.loads(body)))

    clients = [threading.Thread(target=wait_on_job) for _ in range(ATTACKERS)]
    for client in clients:
        client.start()
    refused = ATTACKERS - HELD_WAITS
    wait_until(lambda: len(answers) >= refused, 60, f"{refused} waits beyond the limit to be answered")

    status, _, body = api.request("GET", "/healthz")
    assert status == 200, body
    assert len(answers) == refused, "only the waits beyond WENSHU_MAX_HELD_WAITS were answered early"
    for status, headers, doc in answers:
        assert (status, headers.get("Retry-After"), doc["id"], doc["status"]) == (202, "1", job, "queued")

    status, headers, body = api.request("GET", f"/v1/renders/{job}?wait=60")
    assert (status, headers.get("Retry-After"), json.loads(body)["status"]) == (202, "1", "queued")

    # Cancelling the job ends it: the held requests are answered, as waits that were really held.
    assert api.request("DELETE", f"/v1/renders/{job}")[0] == 204
    for client in clients:
        client.join(60)
    assert len(answers) == ATTACKERS
    assert sum("Retry-After" not in headers for _, headers, _ in answers) == HELD_WAITS


def test_a_body_over_the_limit_gets_413_problem_json_from_the_server(api):
    status, headers, body = api.request("POST", "/v1/renders", body=b"{" + b" " * MAX_BODY + b"}",
                                        **{"Content-Type": "application/json"})
    assert status == 413
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and "WENSHU_MAX_BODY" in problem["detail"]


def test_a_malformed_header_gets_400_problem_json_from_the_server(api):
    sock = api.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n")
    raw = b""
    while chunk := sock.recv(4096):
        raw += chunk
    sock.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"400", raw[:300]
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 400


def _queued_job(api: Api) -> str:
    """A render queued on a queue no worker serves: it stays queued until cancelled."""
    _, _, sample = api.request("GET", "/v1/templates/invoice/sample")
    status, _, body = api.request("POST", "/v1/renders",
                                  body=json.dumps({"template": "invoice", "data": json.loads(sample)}).encode(),
                                  **{"Content-Type": "application/json"})
    assert status == 202, body
    return json.loads(body)["id"]
