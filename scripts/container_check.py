"""`make container-check`: build the image from the unmodified Dockerfile and run the compose stack.

Why this exists: ops run wenshu in containers, and these machines have no Docker daemon and reach no
container registry. Rootful podman does the job, given a few things this script provides:

* a base image made with ``debootstrap --variant=minbase bookworm`` from the Debian mirror the host's
  apt already uses, imported under the name the Dockerfile's ``DEBIAN_IMAGE`` default expects;
* a Redis image built from that base with Debian's redis-server;
* ``CONTAINERS_CONF`` with ulimits no higher than the host's hard limits and ``runtime = "runc"``
  (crun refuses the hybrid cgroup layout here);
* the host's CA bundle as a build-time bind mount with a ``pip.conf`` (HTTPS goes through a proxy
  with its own CA); nothing of it stays in the image.

Then it checks what an operator would: ``/readyz``, a render through the API with keys in production
mode, both health checks, ``--scale worker=3`` seen in ``/readyz``, SIGTERM to a worker mid-job
finishing the job, and ``down`` leaving no container behind. Timings and the image size are printed
as one JSON object on the last line.

Exit status: 0 passed, 1 a check failed, 3 podman cannot be installed/used here (not root, no apt):
the test suite turns 3 into a skip with the printed reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("WENSHU_CONTAINER_DIR", "/var/tmp/wenshu-container"))
BASE_IMAGE = "localhost/debian:12.11-slim"   # what `debian:12.11-slim` (the Dockerfile default) resolves to
REDIS_IMAGE = "localhost/wenshu-redis:bookworm"
IMAGE = "localhost/wenshu:check"
PROJECT = "wenshuck"
PACKAGES = ["podman", "runc", "catatonit", "debootstrap", "iptables", "netavark", "aardvark-dns", "uidmap"]
REDIS_CONTAINERFILE = f"""FROM {BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/*
WORKDIR /data
# As the official image does: no config file, so protected mode would refuse other containers.
CMD ["redis-server", "--protected-mode", "no"]
"""
TIMINGS: dict[str, float] = {}


class Unavailable(Exception):
    """Podman cannot run here; the reason is printed and the exit status is 3."""


def sh(*cmd: str, check: bool = True, env: dict | None = None, input: bytes | None = None,
       timeout: float = 1800) -> subprocess.CompletedProcess:
    run_env = dict(os.environ, CONTAINERS_CONF=str(WORK / "containers.conf"), **(env or {}))
    proc = subprocess.run(cmd, env=run_env, input=input, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout.decode()[-2000:]}"
                           f"\n{proc.stderr.decode()[-4000:]}")
    return proc


def timed(label: str):
    """Decorator-free timing: ``with timed('build'): ...`` records seconds under the label."""
    class _T:
        def __enter__(self):
            self.t = time.monotonic()

        def __exit__(self, *exc):
            TIMINGS[label] = round(time.monotonic() - self.t, 1)
    return _T()


def ensure_podman() -> None:
    missing = [p for p in PACKAGES if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                                                     capture_output=True, text=True).stdout
               != "install ok installed"]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise Unavailable(f"podman needs root and apt-get to install {', '.join(missing)}")
        with timed("install_packages"):
            sh("apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq",
               "--no-install-recommends", *missing, env={"DEBIAN_FRONTEND": "noninteractive"})
    if os.geteuid() != 0:
        raise Unavailable("rootful podman is needed (rootless lacks the uid ranges here)")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "containers.conf").write_text(containers_conf())
    (WORK / "pip.conf").write_text("[global]\ncert = /etc/ssl/certs/host-ca.crt\n")


def containers_conf() -> str:
    """Ulimits no higher than this process's hard limits: podman's defaults exceed them here."""
    import resource
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1],
                int(Path("/proc/sys/kernel/pid_max").read_text()))
    cap = lambda v, dflt: dflt if v == resource.RLIM_INFINITY else min(v, dflt)  # noqa: E731
    return (f'[containers]\ndefault_ulimits = ["nofile={cap(nofile, 65536)}:{cap(nofile, 65536)}", '
            f'"nproc={cap(nproc, 32768)}:{cap(nproc, 32768)}"]\n[engine]\nruntime = "runc"\n'
            # netavark, not CNI: Debian's podman also ships a CNI config, which a reset store may pick up.
            '[network]\nnetwork_backend = "netavark"\n')


def debian_mirror() -> str:
    """The mirror the host's apt uses for bookworm (not -security), read from its sources."""
    texts = [p.read_text() for p in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
             if p.is_file() and p.suffix in ("", ".list", ".sources")]
    for text in texts:
        for url in re.findall(r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)", text, re.M):
            if "security" not in url and url.rstrip("/").endswith("/debian"):
                return url
    return "http://deb.debian.org/debian"


def image_exists(name: str) -> bool:
    return sh("podman", "image", "exists", name, check=False).returncode == 0


def build_base_images() -> None:
    if not image_exists(BASE_IMAGE):
        rootfs = WORK / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        with timed("debootstrap"):
            sh("debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror())
        # As Debian's slim images: no apt caches, no docs needed by the build.
        sh("sh", "-c", f"rm -rf {rootfs}/var/cache/apt/archives/*.deb {rootfs}/var/lib/apt/lists/*")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        sh("podman", "import", "-", BASE_IMAGE, input=tar.stdout.read())
        tar.wait()
        shutil.rmtree(rootfs, ignore_errors=True)
    if not image_exists(REDIS_IMAGE):
        with timed("redis_image"):
            sh("podman", "build", "-t", REDIS_IMAGE, "-f", "-", str(WORK), input=REDIS_CONTAINERFILE.encode())


def build_image() -> None:
    with timed("image_build"):
        sh("podman", "build", "--format", "docker", "-f", "docker/Dockerfile", "-t", IMAGE,
           "-v", "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/host-ca.crt:ro",
           "-v", f"{WORK / 'pip.conf'}:/etc/pip.conf:ro", str(ROOT))
    size = sh("podman", "image", "inspect", IMAGE, "--format", "{{.Size}}").stdout.decode().strip()
    TIMINGS["image_size_mb"] = round(int(size) / 1e6)


class Stack:
    """The unmodified docker/compose.yaml under podman-compose, on a private network."""

    def __init__(self) -> None:
        self.key = secrets.token_hex(16)
        self.port = _free_port()
        self.env = {"WENSHU_API_KEYS": self.key, "PUBLISH_PORT": str(self.port),
                    "IMAGE_TAG": "check", "WENSHU_IMAGE": "localhost/wenshu",
                    "REDIS_IMAGE": REDIS_IMAGE, "WENSHU_WORKERS": "1", "WORKER_CPUS": "1"}
        self.base = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        exe = shutil.which("podman-compose") or str(Path(sys.executable).with_name("podman-compose"))
        proc = sh(exe, "-p", PROJECT, "-f", str(ROOT / "docker/compose.yaml"), *args, env=self.env,
                  timeout=timeout, check=check)
        return proc.stdout.decode()

    def down(self) -> int:
        """``compose down -v``; returns how many containers, volumes and networks it left behind."""
        # --remove-orphans: podman-compose only removes the replicas the file declares, not scaled-up ones
        for _attempt in (1, 2):
            self.compose("down", "-v", "--remove-orphans", "-t", "30", timeout=900, check=False)
            end = time.monotonic() + 30   # podman removes asynchronously: give it a moment
            while time.monotonic() < end and self.leftovers():
                time.sleep(1)
            if not self.leftovers():
                break
            # podman-compose 1.6 removes volumes while a stopping container may still hold them;
            # a second `down` finds the containers gone and removes the rest. Reported, not hidden.
            TIMINGS["down_needed_twice"] = 1
        leftover = self.leftovers()
        if leftover:
            print(f"left behind by down: {leftover}")
        for kind, name in leftover:   # reported as a failure, then cleaned so the next run starts empty
            sh("podman", kind, "rm", "-f", name, check=False)
        return len(leftover)

    def leftovers(self) -> list[tuple[str, str]]:
        found = [("container", n) for n in self.containers()]
        for kind in ("volume", "network"):
            names = sh("podman", kind, "ls", "-q", check=False).stdout.decode().split()
            found += [(kind, n) for n in names if n.startswith(PROJECT + "_")]
        return found

    def containers(self, service: str | None = None) -> list[str]:
        label = f"io.podman.compose.project={PROJECT}"
        args = ["podman", "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"]
        if service:
            args[3:3] = ["--filter", f"label=com.docker.compose.service={service}"]
        return sh(*args).stdout.decode().split()

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 90):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {self.key}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()

    def wait_ready(self, workers: int, deadline: float = 240) -> dict:
        end = time.monotonic() + deadline
        last: object = None
        while time.monotonic() < end:
            try:
                status, _, body = self.request("GET", "/readyz", timeout=5)
                last = json.loads(body)
                if status == 200 and _ready_workers(last) >= workers:
                    return last
            except (OSError, ValueError) as exc:
                last = repr(exc)
            time.sleep(1)
        raise RuntimeError(f"/readyz never showed {workers} ready worker(s); last answer: {last}")


def _ready_workers(readyz: dict) -> int:
    for key in ("workers_ready", "ready_workers", "workers"):
        value = readyz.get(key) if isinstance(readyz, dict) else None
        if isinstance(value, int):
            return value
        if isinstance(value, list):
            return len(value)
        if isinstance(value, dict) and isinstance(value.get("ready"), int):
            return value["ready"]
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoice_request() -> dict:
    sample = json.loads((ROOT / "templates/invoice/sample.json").read_text())
    return {"template": "invoice", "data": sample, "formats": ["pdf"]}


def run_checks(stack: Stack) -> dict:
    results: dict = {}
    with timed("compose_up"):
        stack.down()   # a stack an interrupted run left behind
        stack.compose("up", "-d")
        stack.wait_ready(1)
    with timed("first_render"):
        status, ctype, body = stack.request("POST", "/v1/renders?wait=60&download=pdf", invoice_request())
    assert status == 200 and body.startswith(b"%PDF"), f"render answered {status} {ctype}: {body[:300]!r}"
    results["invoice_pdf_bytes"] = len(body)
    results["fs_store"] = fs_store_download(stack)
    status, _, _ = stack.request("POST", "/v1/renders", invoice_request() | {"template": "no-such"})
    assert status in (404, 422), f"unknown template answered {status}"
    for service in ("api", "worker"):
        name = stack.containers(service)[0]
        proc = sh("podman", "healthcheck", "run", name, check=False)
        assert proc.returncode == 0, f"{service} health check failed: {proc.stdout!r} {proc.stderr!r}"
    with timed("scale_to_3"):
        stack.compose("up", "-d", "--scale", "worker=3")
        ready = stack.wait_ready(3)
    results["readyz_after_scale"] = ready
    results["sigterm_mid_job"] = sigterm_mid_job(stack)
    return results


def fs_store_download(stack: Stack) -> str:
    """A render's file downloads through the compose default, the fs store on the shared ``results``
    volume: the worker wrote it there (seen from the API's container), and Redis holds no file bytes."""
    status, _, body = stack.request("POST", "/v1/renders?wait=60", invoice_request() | {"cache": False})
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "finished", f"render answered {status}: {body[:300]!r}"
    status, _, data = stack.request("GET", doc["files"][0]["url"])
    assert status == 200 and hashlib.sha256(data).hexdigest() == doc["files"][0]["sha256"], \
        f"download answered {status}: {data[:300]!r}"
    api = stack.containers("api")[0]
    listed = sh("podman", "exec", api, "ls", f"/var/lib/wenshu/results/{doc['id']}", check=False)
    assert listed.returncode == 0 and listed.stdout.split(), f"no file on the results volume: {listed.stderr!r}"
    redis = stack.containers("redis")[0]
    keys = sh("podman", "exec", redis, "redis-cli", "--scan", "--pattern", "*:file:*").stdout.split()
    assert not keys, f"file bytes in Redis: {keys[:5]}"
    return f"{len(data)} bytes from the results volume, none in Redis"


def sigterm_mid_job(stack: Stack) -> str:
    """Queue renders, SIGTERM every worker container while they run: each job in hand still finishes."""
    ids = []
    for _ in range(3):
        status, _, body = stack.request("POST", "/v1/renders", invoice_request() | {"cache": False})
        assert status == 202, f"queueing answered {status}: {body[:300]!r}"
        ids.append(json.loads(body)["id"])
    end = time.monotonic() + 60
    while time.monotonic() < end and not any(_job(stack, i)["status"] == "started" for i in ids):
        time.sleep(0.05)
    started = [i for i in ids if _job(stack, i)["status"] == "started"]
    assert started, "no job was seen running"
    for name in stack.containers("worker"):
        sh("podman", "kill", "--signal", "TERM", name, check=False)
    end = time.monotonic() + 180
    while time.monotonic() < end and any(_job(stack, i)["status"] == "started" for i in started):
        time.sleep(0.5)
    statuses = {i: _job(stack, i)["status"] for i in started}
    assert all(s == "finished" for s in statuses.values()), f"jobs in hand at SIGTERM: {statuses}"
    return f"{len(started)} job(s) in hand at SIGTERM finished"


def _job(stack: Stack, job_id: str) -> dict:
    _, _, body = stack.request("GET", f"/v1/renders/{job_id}")
    return json.loads(body)


def main() -> int:
    started = time.monotonic()
    try:
        ensure_podman()
    except Unavailable as exc:
        print(f"container-check unavailable: {exc}")
        return 3
    stack = None
    try:
        build_base_images()
        build_image()
        stack = Stack()
        results = run_checks(stack)
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"container-check FAILED: {exc}")
        if stack:
            for name in stack.containers():
                logs = sh("podman", "logs", "--tail", "30", name, check=False)
                print(f"--- logs of {name} (tail)\n{(logs.stdout + logs.stderr).decode()[-3000:]}")
        return 1
    finally:
        if stack:
            with timed("compose_down"):
                TIMINGS["left_behind_by_down"] = stack.down()
    TIMINGS["total"] = round(time.monotonic() - started, 1)
    print(json.dumps({"ok": True, "timings_s": TIMINGS, **results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
