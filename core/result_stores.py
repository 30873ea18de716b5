"""Where result files live: Redis (small deployments), a directory, or an S3-compatible bucket.

Files are addressed by job id + file name, whatever the store::

    store.put(job_id, name, data)        # the worker, once per produced file
    store.open(job_id, name)             # -> StoredFile | None (None: gone)
    store.open(job_id, name, link=True)  # a download: may be a presigned URL (S3 with WENSHU_S3_PRESIGN)
    store.exists(job_id, name)
    store.delete(job_id, names)          # DELETE of a render
    store.copy(from_job, to_job, name)   # the render cache: inside the store, never through the API
    store.sweep(has_document, full)      # the worker pool: files of jobs whose document expired

Redis keeps a file as a string with the job's TTL (every byte of every PDF in Redis memory for
WENSHU_RESULT_TTL: fine for a few hundred jobs a day). The directory and S3 stores keep no file
bytes in Redis; their files are removed by :meth:`sweep` once the job's document has expired, while
the job's tombstone (core.stores) keeps answering 410. Which jobs to look at comes from an expiry
index in Redis (core.result_index: one sorted-set entry per file, noted before the file is written),
so a sweep costs what expired, not what is stored; ``full=True`` also scans the whole
directory or bucket prefix, the fallback for files the index does not know (the pool does it daily).

No user text reaches a path or an object key: the job id must be a plain token and the file
name is stored under its SHA-256 digest (so ``../x`` or a 300-byte Chinese name are harmless).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from redis import Redis

from .download_names import attachment
from .errors import ConfigError, WenshuError
from .keys import Keys
from .result_index import ExpiryIndex, sweep_store
from .settings import Settings

JOB_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # \Z: "$" would also let a trailing newline through
"""What a job id (or any id a file is filed under) may look like: never a path."""
SWEEP_GRACE_SECONDS = 300
"""Files younger than this (or than WENSHU_RESULT_TTL, if shorter) are never swept: a file filed
under an id whose document is written just after it must not be taken for an orphan."""
CHUNK_BYTES = 64 * 1024
"""Read size when a file is streamed to a client."""


@dataclass
class StoredFile:
    """One stored file opened for reading: exactly one of ``path``, ``stream`` or ``url`` is set.

    ``path``: a local file (send it from disk); ``stream``: a readable binary object (close it);
    ``url``: a presigned URL the client should be redirected to.
    """

    size: int
    path: Path | None = None
    stream: IO[bytes] | None = None
    url: str | None = None

    def chunks(self) -> Iterator[bytes]:
        """The content in CHUNK_BYTES pieces (closes the stream at the end)."""
        if self.url is not None:
            raise ValueError("a presigned file is read by its client, not here")
        source = self.stream if self.stream is not None else open(self.path, "rb")
        try:
            while chunk := source.read(CHUNK_BYTES):
                yield chunk
        finally:
            source.close()

    def read(self) -> bytes:
        """The whole content (for small files and tests; downloads stream :meth:`chunks`)."""
        return b"".join(self.chunks())


class ResultStore(Protocol):
    """Result files by job id + name. Every implementation is safe to share across hosts."""

    kind: str

    def put(self, job_id: str, name: str, data: bytes) -> None: ...
    def open(self, job_id: str, name: str, link: bool = False) -> StoredFile | None: ...
    def exists(self, job_id: str, name: str) -> bool: ...
    def delete(self, job_id: str, names: Iterable[str]) -> None: ...
    def copy(self, from_job: str, to_job: str, name: str) -> bool: ...
    def sweep(self, has_document: Callable[[list[str]], list[bool]], full: bool = True) -> int: ...
    def size(self) -> int: ...


def content_disposition(name: str) -> str:
    """``attachment`` with a meaningful ASCII fallback and the RFC 5987 UTF-8 name (one header for
    every download path: the worker may not import Werkzeug, and S3 presigned URLs need it too)."""
    return attachment(name)


def check_job_id(job_id: str) -> str:
    """``job_id`` if it is a plain token; a WenshuError otherwise (it would name a path)."""
    if not JOB_TOKEN.match(job_id or ""):
        raise WenshuError(f"not a job id a file can be stored under: {job_id!r}")
    return job_id


def stored_name(name: str) -> str:
    """The name a file is kept under: a digest of its real name, plus its extension when plain."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    suffix = "." + ext if re.fullmatch(r"[a-z0-9]{1,8}", ext) else ""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:40] + suffix


class RedisResultStore:
    """Files as Redis strings expiring with the job (``{p}:file:{id}:{name}``)."""

    kind = "redis"

    def __init__(self, redis: Redis, keys: Keys, ttl: int) -> None:
        self.redis, self.keys, self.ttl = redis, keys, ttl

    def put(self, job_id: str, name: str, data: bytes) -> None:
        self.redis.set(self.keys.file(check_job_id(job_id), name), data, ex=self.ttl)

    def open(self, job_id: str, name: str, link: bool = False) -> StoredFile | None:
        data = self.redis.get(self.keys.file(check_job_id(job_id), name))
        return None if data is None else StoredFile(size=len(data), stream=io.BytesIO(data))

    def exists(self, job_id: str, name: str) -> bool:
        return bool(self.redis.exists(self.keys.file(check_job_id(job_id), name)))

    def delete(self, job_id: str, names: Iterable[str]) -> None:
        keys = [self.keys.file(check_job_id(job_id), n) for n in names]
        if keys:
            self.redis.delete(*keys)

    def copy(self, from_job: str, to_job: str, name: str) -> bool:
        """Copy inside Redis (COPY, Redis ≥ 6.2); False if the source is gone."""
        target = self.keys.file(check_job_id(to_job), name)
        pipe = self.redis.pipeline()
        pipe.copy(self.keys.file(check_job_id(from_job), name), target, replace=True)
        pipe.expire(target, self.ttl)
        copied, _ = pipe.execute()
        return bool(copied)

    def sweep(self, has_document: Callable[[list[str]], list[bool]], full: bool = True) -> int:
        return 0  # Redis expires the files itself

    def size(self) -> int:
        """Bytes of result files held (a SCAN: for benchmarks, not for requests)."""
        total = 0
        for key in self.redis.scan_iter(match=self.keys.file("*", "*"), count=500):
            total += self.redis.strlen(key)
        return total


class FsResultStore:
    """Files in a directory (``{root}/{job id}/{digest}.{ext}``), e.g. a volume shared by all hosts.

    Writes go to a temporary file in the same directory, fsynced, then renamed into place, so a
    reader sees the whole file or none, even on another host of an NFS-style volume.
    """

    kind = "fs"

    def __init__(self, root: Path, grace: float = SWEEP_GRACE_SECONDS, index: ExpiryIndex | None = None) -> None:
        self.root, self.grace, self.index = Path(root), grace, index
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"WENSHU_RESULT_DIR={root} cannot be created: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ConfigError(f"WENSHU_RESULT_DIR={root} is not writable by this process")

    def _dir(self, job_id: str) -> Path:
        return self.root / check_job_id(job_id)

    def _path(self, job_id: str, name: str) -> Path:
        return self._dir(job_id) / stored_name(name)

    def put(self, job_id: str, name: str, data: bytes) -> None:
        folder = self._dir(job_id)
        note(self.index, job_id, name)
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._path(job_id, name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, job_id: str, name: str, link: bool = False) -> StoredFile | None:
        path = self._path(job_id, name)
        try:
            return StoredFile(size=path.stat().st_size, path=path)
        except FileNotFoundError:
            return None

    def exists(self, job_id: str, name: str) -> bool:
        return self._path(job_id, name).is_file()

    def copy(self, from_job: str, to_job: str, name: str) -> bool:
        """A hard link (no bytes copied; either job's deletion leaves the other's file), placed by
        rename like a write; a plain copy where the file system refuses links. False if gone."""
        source, folder = self._path(from_job, name), self._dir(to_job)
        note(self.index, to_job, name)
        folder.mkdir(exist_ok=True)
        tmp = folder / f".part-{os.getpid()}-{time.monotonic_ns()}"
        try:
            try:
                os.link(source, tmp)
            except FileNotFoundError:
                return False
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, self._path(to_job, name))
            return True
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete(self, job_id: str, names: Iterable[str]) -> None:
        for name in names:
            self._path(job_id, name).unlink(missing_ok=True)
        try:
            self._dir(job_id).rmdir()
        except OSError:
            pass  # not empty (another file of the job) or already gone

    def sweep(self, has_document: Callable[[list[str]], list[bool]], full: bool = True) -> int:
        """Remove the folders of jobs whose document is gone: those the index says are due, and with
        ``full`` (or without an index) every old folder in the directory; how many were removed."""
        return sweep_store(self.index, has_document, self._remove_entries, self._scan, full)

    def _remove_entries(self, entries: list[str]) -> None:
        """The index's ``{job id}/{stored name}`` files, then each folder left empty."""
        folders = set()
        for entry in entries:
            job_id, stored = entry.split("/", 1)
            folders.add(self._dir(job_id))
            (self._dir(job_id) / Path(stored).name).unlink(missing_ok=True)
        for folder in folders:
            try:
                folder.rmdir()
            except OSError:
                pass  # a file the index did not name (the full scan removes it with its folder)

    def _remove(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            shutil.rmtree(self._dir(job_id), ignore_errors=True)

    def _scan(self, has_document: Callable[[list[str]], list[bool]]) -> int:
        """The whole directory: folders older than the grace whose job has no document."""
        cutoff = time.time() - self.grace
        candidates = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False) and JOB_TOKEN.match(entry.name) \
                            and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        candidates.append(entry.name)
                except FileNotFoundError:
                    continue  # removed meanwhile (another pool swept it)
        removed = 0
        for start in range(0, len(candidates), 500):
            batch = candidates[start:start + 500]
            dead = [job_id for job_id, alive in zip(batch, has_document(batch), strict=True) if not alive]
            self._remove(dead)
            removed += len(dead)
        return removed

    def size(self) -> int:
        return sum(f.stat().st_size for f in self.root.glob("*/*") if f.is_file())


def note(index: ExpiryIndex | None, job_id: str, name: str) -> None:
    """Enter a file in the expiry index (if the store has one) before it is written, so a file is
    never on disk or in the bucket without the index knowing when it may go."""
    if index is not None:
        index.note(check_job_id(job_id), stored_name(name))


def sweep_grace(settings: Settings) -> float:
    """How young a file is never swept: SWEEP_GRACE_SECONDS, or WENSHU_RESULT_TTL if shorter."""
    return min(SWEEP_GRACE_SECONDS, settings.result_ttl)


def expiry_index(settings: Settings, redis: Redis) -> ExpiryIndex:
    """The deployment's index: due WENSHU_RESULT_TTL plus the grace after a job's last file."""
    grace = sweep_grace(settings)
    return ExpiryIndex(redis, Keys(settings.key_prefix).result_expiry(), settings.result_ttl + grace, grace)


def build_result_store(settings: Settings, redis: Redis) -> ResultStore:
    """The store WENSHU_RESULT_STORE names, checked now (a bad directory or bucket stops the start)."""
    if settings.result_store == "fs":
        return FsResultStore(settings.result_dir, sweep_grace(settings), expiry_index(settings, redis))
    if settings.result_store == "s3":
        from .s3_store import S3ResultStore

        return S3ResultStore.from_settings(settings, expiry_index(settings, redis))
    return RedisResultStore(redis, Keys(settings.key_prefix), settings.result_ttl)
