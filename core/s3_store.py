"""Result files in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW...), through boto3.

Objects are ``{key_prefix}/{job id}/{digest}.{ext}`` (see :func:`core.result_stores.stored_name`).
Downloads are streamed from the object's body in chunks, never read whole into the API; with
WENSHU_S3_PRESIGN=1 the API answers with a redirect to a short-lived presigned URL instead, so the
bytes do not pass through it at all. Files of expired jobs are removed by the worker pool's sweep,
which finds their keys in the expiry index (core.result_index) and deletes them by name, 1 000 a
request; the whole prefix is listed only by the daily fallback scan. An S3 lifecycle rule expiring the
prefix after a few days past WENSHU_RESULT_TTL is a fine backstop where the bucket allows one; the
sweep works on every S3 flavour.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import ConfigError
from .formats import MIME_TYPES
from .result_index import ExpiryIndex, sweep_store
from .result_stores import (
    SWEEP_GRACE_SECONDS,
    StoredFile,
    check_job_id,
    content_disposition,
    note,
    stored_name,
    sweep_grace,
)
from .settings import Settings

PRESIGN_SECONDS = 300
"""How long a presigned download URL stays valid."""
DELETE_BATCH = 1000
"""Most keys S3's DeleteObjects takes at once."""


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3ResultStore:
    """Result files as objects of one bucket under the deployment's key prefix."""

    kind = "s3"

    def __init__(self, client, bucket: str, prefix: str, presign: bool = False,
                 grace: float = SWEEP_GRACE_SECONDS, index: ExpiryIndex | None = None) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.rstrip("/") + "/"
        self.presign, self.grace, self.index = presign, grace, index

    @classmethod
    def from_settings(cls, settings: Settings, index: ExpiryIndex | None = None) -> S3ResultStore:
        """A store on WENSHU_S3_*; ConfigError now if the bucket cannot be reached."""
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint or None, region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key or None, aws_secret_access_key=settings.s3_secret_key or None,
            config=Config(signature_version="s3v4", connect_timeout=5, read_timeout=30,
                          retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path" if settings.s3_endpoint else "auto"}))
        try:
            client.head_bucket(Bucket=settings.s3_bucket)
        except (ClientError, BotoCoreError) as exc:
            where = settings.s3_endpoint or "AWS"
            raise ConfigError(f"WENSHU_S3_BUCKET={settings.s3_bucket!r} is not usable at {where}: {exc}") from exc
        return cls(client, settings.s3_bucket, settings.key_prefix, settings.s3_presign,
                   sweep_grace(settings), index)

    def key(self, job_id: str, name: str) -> str:
        return f"{self.prefix}{check_job_id(job_id)}/{stored_name(name)}"

    def put(self, job_id: str, name: str, data: bytes) -> None:
        note(self.index, job_id, name)
        self.client.put_object(Bucket=self.bucket, Key=self.key(job_id, name), Body=data)

    def open(self, job_id: str, name: str, link: bool = False) -> StoredFile | None:
        """The object's body as a stream; for a download (``link``) with WENSHU_S3_PRESIGN, a URL."""
        key = self.key(job_id, name)
        try:
            if link and self.presign:
                size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
                ext = name.rsplit(".", 1)[-1].lower()
                params = {"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": content_disposition(name),
                          "ResponseContentType": MIME_TYPES.get(ext, "application/octet-stream")}
                url = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=PRESIGN_SECONDS)
                return StoredFile(size=size, url=url)
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return StoredFile(size=answer["ContentLength"], stream=answer["Body"])

    def exists(self, job_id: str, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(job_id, name))
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise

    def copy(self, from_job: str, to_job: str, name: str) -> bool:
        """CopyObject inside the bucket (the bytes never leave S3); False if the source is gone."""
        note(self.index, to_job, name)
        try:
            self.client.copy_object(Bucket=self.bucket, Key=self.key(to_job, name),
                                    CopySource={"Bucket": self.bucket, "Key": self.key(from_job, name)})
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise

    def delete(self, job_id: str, names: Iterable[str]) -> None:
        self._delete_keys([self.key(job_id, n) for n in names])

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            objects = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    def _objects(self, prefix: str) -> Iterator[dict]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _listing(self) -> dict[str, tuple[float, list[str]]]:
        """Job id → (newest object's time, its object keys), over the whole prefix (the full scan)."""
        jobs: dict[str, tuple[float, list[str]]] = {}
        for obj in self._objects(self.prefix):
            job_id = obj["Key"][len(self.prefix):].split("/", 1)[0]
            newest, keys = jobs.get(job_id, (0.0, []))
            jobs[job_id] = (max(newest, obj["LastModified"].timestamp()), keys + [obj["Key"]])
        return jobs

    def sweep(self, has_document: Callable[[list[str]], list[bool]], full: bool = True) -> int:
        """Delete the objects of jobs whose document is gone: those the index says are due (by key,
        no listing), and with ``full`` (or without an index) every old job under the prefix (listed);
        how many jobs were cleared."""
        return sweep_store(self.index, has_document, self._remove_entries, self._scan, full)

    def _remove_entries(self, entries: list[str]) -> None:
        """The index's ``{job id}/{stored name}`` entries are the objects' keys below the prefix:
        deleted by name, 1 000 a request, without listing anything."""
        self._delete_keys([self.prefix + entry for entry in entries])

    def _scan(self, has_document: Callable[[list[str]], list[bool]]) -> int:
        """The whole prefix: jobs whose newest object is older than the grace and that have no document."""
        cutoff = time.time() - self.grace
        listing = self._listing()
        candidates = [job_id for job_id, (newest, _) in listing.items() if newest < cutoff]
        doomed: list[str] = []
        for start in range(0, len(candidates), 500):
            batch = candidates[start:start + 500]
            doomed += [job_id for job_id, alive in zip(batch, has_document(batch), strict=True) if not alive]
        self._delete_keys([key for job_id in doomed for key in listing[job_id][1]])
        return len(doomed)

    def size(self) -> int:
        return sum(obj["Size"] for obj in self._objects(self.prefix))
