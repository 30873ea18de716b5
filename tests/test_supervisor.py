"""The Supervisor's restart rules, driven through a fake LibreOffice (no soffice, no Redis).

The fake implements worker.libreoffice.OfficeProcess, as Gotenberg's ProcessMock does for its
supervisor: each test scripts what the instance does on its next call (answer, refuse, die, hang)
and checks what the Supervisor does about it — which instance converted, which ones were started
and stopped, which error the caller got, and which restart reason reached the metrics callback.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from core.errors import ConversionFailed, ConversionTimeout
from core.settings import Settings
from worker.libreoffice import (
    CRASH,
    DEAD,
    RECYCLE,
    START_ATTEMPTS,
    TEST_GATE_ENV,
    TIMEOUT,
    ConversionRefused,
    InstanceDied,
    Supervisor,
    lo_server_env,
)

DOCX = b"PK fake docx"


class FakeOffice:
    """One scripted instance: ``outcomes`` says what each convert call does, in order.

    An outcome is bytes (returned), or an exception instance (raised); a raised InstanceDied also
    marks the instance as no longer running, as a real crash does.
    """

    def __init__(self, number: int, outcomes: deque, start_error: Exception | None = None,
                 healthy_after_refusal: bool = True) -> None:
        self.number = number
        self.outcomes = outcomes
        self.start_error = start_error
        self.healthy_after_refusal = healthy_after_refusal
        self.started = self.stopped = self.alive = False
        self.converted: list[bytes] = []

    def start(self) -> None:
        self.started = True
        if self.start_error is not None:
            raise self.start_error
        self.alive = True

    def stop(self) -> None:
        self.stopped, self.alive = True, False

    def running(self) -> bool:
        return self.alive

    def healthy(self) -> bool:
        return self.alive and self.healthy_after_refusal

    def convert(self, docx: bytes, fmt: str, filter_options: list[str], update_index: bool,
                timeout: float) -> bytes:
        outcome = self.outcomes.popleft() if self.outcomes else f"{fmt} by #{self.number}".encode()
        if isinstance(outcome, InstanceDied):
            self.alive = False
        if isinstance(outcome, Exception):
            raise outcome
        self.converted.append(docx)
        return outcome


class Factory:
    """Builds FakeOffice instances in order; ``plans[i]`` configures the i-th instance."""

    def __init__(self, *plans: dict) -> None:
        self.plans = list(plans)
        self.instances: list[FakeOffice] = []

    def __call__(self, settings: Settings, profile_dir: Path) -> FakeOffice:
        plan = self.plans[len(self.instances)] if len(self.instances) < len(self.plans) else {}
        instance = FakeOffice(len(self.instances), deque(plan.get("outcomes", ())),
                              plan.get("start_error"), plan.get("healthy_after_refusal", True))
        self.instances.append(instance)
        return instance


@pytest.fixture()
def restarts() -> list[str]:
    return []


def make(factory: Factory, restarts: list[str], **settings) -> Supervisor:
    supervisor = Supervisor(Settings(env="test", **settings), on_restart=restarts.append,
                            process_factory=factory)
    return supervisor


def test_instance_is_started_on_first_conversion_not_before(restarts):
    factory = Factory()
    supervisor = make(factory, restarts)
    assert factory.instances == []
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #0"
    assert [i.started for i in factory.instances] == [True]
    assert restarts == []
    supervisor.stop()
    assert factory.instances[0].stopped


def test_instance_is_recycled_after_lo_restart_after_conversions(restarts):
    factory = Factory()
    supervisor = make(factory, restarts, lo_restart_after=2)
    answers = [supervisor.convert(DOCX, "pdf") for _ in range(5)]
    assert answers == [b"pdf by #0", b"pdf by #0", b"pdf by #1", b"pdf by #1", b"pdf by #2"]
    assert restarts == [RECYCLE, RECYCLE]
    assert [i.stopped for i in factory.instances] == [True, True, False]


def test_crash_mid_conversion_restarts_and_retries_once_on_a_fresh_instance(restarts):
    factory = Factory({"outcomes": [InstanceDied("connection reset")]})
    supervisor = make(factory, restarts)
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #1"
    assert restarts == [CRASH]
    assert factory.instances[0].stopped
    assert factory.instances[1].converted == [DOCX], "the same document was retried"


def test_document_that_crashes_two_instances_fails_and_leaves_a_fresh_one(restarts):
    factory = Factory({"outcomes": [InstanceDied("reset")]}, {"outcomes": [InstanceDied("reset again")]})
    supervisor = make(factory, restarts)
    with pytest.raises(ConversionFailed, match="crashed converting this document twice"):
        supervisor.convert(DOCX, "pdf")
    assert restarts == [CRASH, CRASH]
    # The next document gets a working instance, not a dead one.
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #2"


def test_refusal_by_a_healthy_instance_blames_the_document_without_restart(restarts):
    factory = Factory({"outcomes": [ConversionRefused("filter error")]})
    supervisor = make(factory, restarts)
    with pytest.raises(ConversionFailed, match="could not convert the document to pdf: filter error"):
        supervisor.convert(DOCX, "pdf")
    assert restarts == []
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #0"


def test_refusal_by_an_instance_that_stopped_answering_counts_as_a_crash(restarts):
    # A killed soffice.bin reaches the supervisor as a refusal (disposed UNO bridge) first.
    factory = Factory({"outcomes": [ConversionRefused("DisposedException")], "healthy_after_refusal": False})
    supervisor = make(factory, restarts)
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #1"
    assert restarts == [CRASH]


def test_instance_found_dead_between_jobs_is_replaced_before_converting(restarts):
    factory = Factory()
    supervisor = make(factory, restarts)
    supervisor.start()
    factory.instances[0].alive = False  # killed while idle
    assert not supervisor.running()
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #1"
    assert restarts == [DEAD]
    assert factory.instances[0].converted == []


def test_timeout_kills_and_restarts_the_instance_and_names_the_setting(restarts):
    factory = Factory({"outcomes": [TimeoutError("timed out")]})
    supervisor = make(factory, restarts, convert_timeout=7)
    with pytest.raises(ConversionTimeout) as caught:
        supervisor.convert(DOCX, "odt")
    assert "within 7 s" in caught.value.detail and "WENSHU_CONVERT_TIMEOUT" in caught.value.detail
    assert restarts == [TIMEOUT]
    assert factory.instances[0].stopped
    assert factory.instances[1].started and not factory.instances[1].stopped
    # A timeout is not retried (the document may well hang again); the next one converts.
    assert factory.instances[1].converted == []
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #1"


def test_a_failed_start_is_retried(restarts):
    factory = Factory({"start_error": OSError("port taken")})
    supervisor = make(factory, restarts)
    assert supervisor.convert(DOCX, "pdf") == b"pdf by #1"
    assert factory.instances[0].stopped, "the failed attempt was cleaned up"
    assert restarts == []


def test_an_instance_that_never_starts_is_reported_as_conversion_failed(restarts):
    factory = Factory(*[{"start_error": ConversionFailed("soffice exited with 81")}] * START_ATTEMPTS)
    supervisor = make(factory, restarts)
    with pytest.raises(ConversionFailed, match="could not be started .*soffice exited with 81"):
        supervisor.convert(DOCX, "pdf")
    assert len(factory.instances) == START_ATTEMPTS
    assert all(i.stopped for i in factory.instances)
    assert not supervisor.running()
    # Once LibreOffice can start again, the same supervisor recovers by itself.
    assert supervisor.convert(DOCX, "pdf") == f"pdf by #{START_ATTEMPTS}".encode()


def test_restart_that_cannot_start_a_new_instance_fails_the_conversion(restarts):
    factory = Factory({"outcomes": [InstanceDied("reset")]},
                      *[{"start_error": OSError("no soffice")}] * START_ATTEMPTS)
    supervisor = make(factory, restarts)
    with pytest.raises(ConversionFailed, match="could not be started"):
        supervisor.convert(DOCX, "pdf")
    assert restarts == [CRASH]


@pytest.mark.parametrize("environment, passed", [("test", True), ("development", False), ("production", False)])
def test_conversion_gate_reaches_lo_server_only_in_the_test_environment(monkeypatch, environment, passed):
    monkeypatch.setenv(TEST_GATE_ENV, "/tmp/some-gate")
    monkeypatch.setenv("WENSHU_ENV", "test")  # a stray variable must not decide it: the settings do
    env = lo_server_env(Settings(env=environment, api_keys=("k",)))
    assert env["WENSHU_ENV"] == environment
    assert (env.get(TEST_GATE_ENV) == "/tmp/some-gate") is passed
