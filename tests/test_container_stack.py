"""The image built from the unmodified Dockerfile and the compose stack run under podman, as ops run it.

``scripts/container_check.py`` (also ``make container-check``) does the work; this test runs it. It
needs root (rootful podman, installed from Debian on first use); where that is impossible the
script exits 3 with the reason, and only then is this test skipped, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from redis import Redis
from rq import Queue, Worker

from core.settings import PROJECT_ROOT
from tests.test_deploy_files import run_healthcheck


def test_image_builds_and_compose_stack_renders_scales_and_stops_cleanly():
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts/container_check.py")],
                          capture_output=True, text=True, timeout=3600, cwd=PROJECT_ROOT)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(report, ensure_ascii=False))   # timings and image size, in the test log
    assert report["invoice_pdf_bytes"] > 10_000
    assert "from the results volume, none in Redis" in report["fs_store"]
    assert report["readyz_after_scale"]["workers"] >= 3
    assert "finished" in report["sigterm_mid_job"]
    assert report["timings_s"]["left_behind_by_down"] == 0


def test_compose_api_and_every_worker_share_one_results_volume_at_the_same_path():
    """The fs store works across containers only if the worker writes where the API reads."""
    compose = yaml.safe_load((PROJECT_ROOT / "docker/compose.yaml").read_text())
    services, env = compose["services"], compose["x-wenshu-env"]
    assert env["WENSHU_RESULT_STORE"] == "${WENSHU_RESULT_STORE:-fs}"
    mount = f"results:{env['WENSHU_RESULT_DIR']}"
    assert mount in services["api"]["volumes"] and mount in services["worker"]["volumes"]
    assert "results" in compose["volumes"]
    # the image makes that directory for its non-root user, so a fresh volume starts out writable
    assert f"install -d -o 10001 -g 10001 -m 0750 {env['WENSHU_RESULT_DIR']}" in \
        (PROJECT_ROOT / "docker/Dockerfile").read_text()


def test_worker_healthcheck_finds_its_container_workers_by_name_prefix_not_hostname(redis_url, tmp_path):
    """Containers sharing the host's hostname (host networking) still tell their workers apart."""
    conn = Redis.from_url(redis_url)
    (tmp_path / "wenshu.identity").write_text("wenshu-c0ffee\n")
    env = {"REDIS_URL": redis_url, "TMPDIR": str(tmp_path)}
    other = Worker([Queue("wenshu", connection=conn)], connection=conn, name="wenshu-other-1")
    other.register_birth()   # same hostname as ours, another container's prefix
    try:
        assert run_healthcheck("worker", env=env).returncode == 1
        mine = Worker([Queue("wenshu", connection=conn)], connection=conn, name="wenshu-c0ffee-1")
        mine.register_birth()
        try:
            result = run_healthcheck("worker", env=env)
            assert result.returncode == 0 and "container wenshu-c0ffee" in result.stdout
        finally:
            mine.register_death()
    finally:
        other.register_death()


def test_a_worker_container_waits_for_redis_instead_of_crash_looping(tmp_path):
    from tests.helpers import free_port

    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "TMPDIR": str(tmp_path)}
    script = PROJECT_ROOT / "docker/healthcheck.py"
    code = "import sys, healthcheck as h; ok, why = h.wait_for_redis(2); print(why); sys.exit(0 if ok else 1)"
    proc = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": f"{script.parent}:{PROJECT_ROOT}"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "did not answer within 2 s" in proc.stdout
