"""Worker processes: each an RQ worker that owns one supervised LibreOffice.

We use RQ's ``SimpleWorker`` (no fork per job) because the LibreOffice instance, its conversion
count and its restarts belong to the process and must survive from one job to the next.
``run_pool`` starts N such processes and restarts any that die (a crash, a kill -9), so the
configured concurrency holds; SIGTERM/SIGINT are passed on and each worker finishes its job.

No job is lost when a worker process dies mid-job: RQ only treats a started job as abandoned
once its execution's heartbeat expires (for a ``SimpleWorker`` that is the job timeout + 60 s,
found by a maintenance pass that runs every 10 minutes). ``run_pool`` saw the child die, so it
hands that child's started jobs to RQ's abandoned-job handling at once (:func:`recover_jobs`):
retried if they have retries left, otherwise failed with a reason on the job document.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid

from redis import Redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import SimpleWorker

from core.batch_doc import batch_queue_name
from core.errors import ConversionFailed
from core.keys import Keys
from core.redis_checks import eviction_warning
from core.result_stores import build_result_store
from core.settings import Settings
from core.stores import JobStore, now_iso

from .jobs import Engine
from .memory import freeze_startup_objects, memory_sample, release_job_memory
from .memory_trace import MemoryTrace
from .result_sweep import ResultSweeper

log = logging.getLogger("wenshu.worker")

ALIVE_TTL_SECONDS = 15
"""Seconds a worker's "LibreOffice alive" mark lives unless refreshed (readiness)."""
SWEEP_SECONDS = 10
"""Seconds between a pool's sweeps for started jobs of workers that stopped reporting."""
ALIVE_REFRESH_SECONDS = 5
"""Seconds between refreshes of that mark."""
PARENT_POLL_SECONDS = 1.0
"""Seconds between checks that the pool that started this worker is still alive."""
POOL_POLL_SECONDS = 0.5
"""Seconds between the pool's checks for dead worker processes."""
NAME_ENV = "WENSHU_WORKER_NAME"
"""Environment variable through which the pool names each worker (to recover its jobs if it dies)."""
POOL_PID_ENV = "WENSHU_POOL_PID"
"""Environment variable with the pool's pid: a worker whose pool is gone stops itself."""


class WenshuWorker(SimpleWorker):
    """An RQ worker whose jobs share this process's :class:`Engine`."""

    def __init__(self, *args, engine: Engine, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.engine = engine
        self.memory_trace = MemoryTrace.from_settings(engine.settings)

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        """Run one job, then free what it left in reference cycles and trim the heap.

        Here, after RQ's own bookkeeping and before the worker reports itself idle, rather than at
        the end of ``render_job``: the cycles a render leaves are only freed by a collection, and
        freed memory only leaves the process once trimmed (see worker/memory.py).
        """
        try:
            return super().perform_job(job, queue, execution)
        finally:
            release_job_memory()
            if self.memory_trace is not None:
                self.memory_trace.job_done()


def _mark_alive(engine: Engine, redis: Redis, worker: WenshuWorker, stop: threading.Event) -> None:
    """Tell the API (``/readyz``) that this worker has a live LibreOffice.

    Marked only once RQ has registered the worker, so "ready" means a job sent now is taken.
    Until the first mark, checks every 0.1 s; then refreshes every ALIVE_REFRESH_SECONDS.
    """
    key = engine.keys.lo_alive(worker.name)
    marked = False
    while not stop.is_set():
        try:
            # running(), not healthy(): a probe would wait behind the conversion in progress.
            if engine.pipeline.supervisor.running() and redis.exists(worker.key):
                redis.set(key, os.getpid(), ex=ALIVE_TTL_SECONDS)
                marked = True
                engine.metrics.memory(worker.name, memory_sample(os.getpid()))
        except Exception:  # noqa: BLE001 - Redis may be restarting; try again next round
            pass
        stop.wait(ALIVE_REFRESH_SECONDS if marked else 0.1)
    try:
        redis.delete(key)
    except Exception:  # noqa: BLE001
        pass


def _watch_pool(pool_pid: int, stop: threading.Event) -> None:
    """Stop this worker (warm: the current job finishes) when the pool that started it is gone.

    A ``kill -9`` of ``wenshu worker`` must not leave orphaned workers and LibreOffices behind.
    """
    while not stop.wait(PARENT_POLL_SECONDS):
        if os.getppid() != pool_pid:
            log.warning("worker pool (pid %d) is gone; stopping", pool_pid)
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _exit_on_signal(signum, frame):
    # Until RQ installs its handlers: a SIGTERM during LibreOffice start-up still runs `finally`.
    raise SystemExit(0)


def limit_memory(limit: int) -> None:
    """Cap this process's address space (soft limit only) so a template that builds a huge
    string fails with MemoryError — a clean job failure — instead of swapping the host to death.
    The hard limit stays, so lo_server.py can lift the soft limit again for LibreOffice."""
    if limit <= 0:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def run_one(settings: Settings) -> None:
    """Run one worker process until told to stop."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    redis = Redis.from_url(settings.redis_url)
    engine = Engine(settings, redis)
    engine.install()
    stop = threading.Event()
    try:
        engine.pipeline.supervisor.start()  # warm before the first job; readiness depends on it
        limit_memory(settings.worker_memory)
        freeze_startup_objects()
        queue = Queue(settings.queue, connection=redis)
        batches = Queue(batch_queue_name(settings.queue), connection=redis)  # after renders: see batch_queue_name
        worker = WenshuWorker([queue, batches], connection=redis, engine=engine, name=os.environ.get(NAME_ENV) or None)
        threading.Thread(target=_mark_alive, args=(engine, redis, worker, stop), daemon=True).start()
        if os.environ.get(POOL_PID_ENV, "").isdigit():
            threading.Thread(target=_watch_pool, args=(int(os.environ[POOL_PID_ENV]), stop), daemon=True).start()
        worker.work(with_scheduler=False, logging_level=settings.log_level)
    finally:
        stop.set()
        engine.pipeline.stop()


def recover_jobs(redis: Redis, settings: Settings, worker_name: str) -> list[str]:
    """Hand the started jobs of a worker known to be dead to RQ's abandoned-job handling now.

    RQ retries each one that has retries left (``Retry(max=1)`` at enqueue) and fails the rest;
    a failed one's job document says why, so a document that kills its worker every time ends
    failed after two attempts instead of looping or hanging in ``started``.

    Returns:
        The ids of the jobs recovered.
    """
    # RQ's public view of another worker's executions; expired ones are already cleanup()'s.
    dead = SimpleWorker([], connection=redis, name=worker_name)
    entries = [execution.composite_key for execution in dead.get_current_executions(refresh=True)]
    if not entries:
        return []
    for queue in (settings.queue, batch_queue_name(settings.queue)):  # a render's, or a batch record's
        registry = StartedJobRegistry(queue, connection=redis)
        # Expire just these executions; cleanup() handles every execution expired before now.
        redis.zadd(registry.key, dict.fromkeys(entries, 0), xx=True)
        registry.cleanup()
    job_ids = [entry.split(":", 1)[0] for entry in entries]
    store = JobStore(redis, Keys(settings.key_prefix), settings.result_ttl)
    for job_id in job_ids:
        try:
            status = Job.fetch(job_id, connection=redis).get_status()
        except Exception:  # noqa: BLE001 - the RQ job may be gone (deleted render)
            status = None
        log.warning("recovered job %s of dead worker %s: %s", job_id, worker_name, status)
        doc = store.get(job_id)
        if status == "failed" and doc is not None and doc.status == "started":
            error = ConversionFailed(
                "the worker process died twice while rendering this job (killed, or out of memory); "
                "it was not retried again").to_problem()
            store.update(job_id, status="failed", error=error, finished_at=now_iso())
    return job_ids


def sweep_orphans(redis: Redis, settings: Settings) -> list[str]:
    """Recover started jobs whose worker has stopped reporting, on any host.

    :func:`recover_jobs` covers a child this pool saw die; this covers the rest — a whole pool
    or host killed — without waiting for RQ's own abandoned-job timeout (job timeout + 60 s).
    A worker counts as gone once its "alive" mark (refreshed every ALIVE_REFRESH_SECONDS, even
    mid-job) has expired and the job started more than ALIVE_TTL_SECONDS ago.

    Returns:
        The ids of the jobs recovered.
    """
    keys = Keys(settings.key_prefix)
    running = [job_id for queue in (settings.queue, batch_queue_name(settings.queue))
               for job_id in StartedJobRegistry(queue, connection=redis).get_job_ids(cleanup=False)]
    dead: set[str] = set()
    for job_id in running:
        try:
            job = Job.fetch(job_id, connection=redis)
        except Exception:  # noqa: BLE001 - deleted meanwhile
            continue
        started = job.started_at.timestamp() if job.started_at else time.time()
        if (job.worker_name and time.time() - started > ALIVE_TTL_SECONDS
                and not redis.exists(keys.lo_alive(job.worker_name))):
            dead.add(job.worker_name)
    recovered = []
    for name in sorted(dead):
        recovered += recover_jobs(redis, settings, name)
    return recovered


def run_pool(settings: Settings, processes: int) -> int:
    """Start ``processes`` workers, restart any that die, stop them all on SIGTERM/SIGINT.

    The first SIGTERM/SIGINT is a warm shutdown: each worker finishes the job it has, stops its
    LibreOffice and exits; the pool waits for them. A second one, a second later or more, is
    passed on too and is RQ's cold shutdown (RQ ignores the duplicate a process group signal and
    our forwarding deliver together).
    """
    stopping = threading.Event()
    children: dict[int, tuple[subprocess.Popen, str]] = {}
    cmd = [sys.executable, "-m", "worker.runner"]
    redis = Redis.from_url(settings.redis_url)
    results = ResultSweeper(redis, settings, build_result_store(settings, redis))
    if warning := eviction_warning(redis):
        log.warning(warning)

    def spawn(slot: int) -> None:
        name = f"{settings.worker_name_prefix}-{uuid.uuid4().hex}"
        env = dict(os.environ, **{NAME_ENV: name, POOL_PID_ENV: str(os.getpid())})
        children[slot] = (subprocess.Popen(cmd, env=env), name)
        log.info("worker %d started (pid %d, %s)", slot, children[slot][0].pid, name)

    def forward(signum, frame):
        stopping.set()
        for child, _ in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for slot in range(processes):
        spawn(slot)
    next_sweep = 0.0
    while not stopping.is_set():
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + SWEEP_SECONDS
            try:
                sweep_orphans(redis, settings)
            except Exception:  # noqa: BLE001 - Redis down: try again at the next sweep
                log.exception("could not sweep for orphaned jobs")
            try:
                results.maybe_sweep()
            except Exception:  # noqa: BLE001 - Redis or the store unreachable: try again later
                log.exception("could not sweep expired result files")
        for slot, (child, name) in list(children.items()):
            if child.poll() is not None and not stopping.is_set():
                log.warning("worker %d (pid %d) exited with %s; restarting", slot, child.pid, child.returncode)
                try:
                    recover_jobs(redis, settings, name)
                except Exception:  # noqa: BLE001 - Redis down: RQ's own cleanup finds them later
                    log.exception("could not recover the jobs of worker %s", name)
                spawn(slot)
        stopping.wait(POOL_POLL_SECONDS)
    grace = settings.job_timeout
    for child, _ in children.values():
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


def main() -> None:
    """Entry point of one worker process (``python -m worker.runner``)."""
    from core.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    run_one(settings)


if __name__ == "__main__":
    main()
