"""Every Redis key wenshu uses, named in one place.

Redis is the only state the API and the workers share, so they can run on different hosts.
Key layout (prefix ``wenshu`` by default)::

    {p}:job:{id}                 job document (JSON), TTL result_ttl
    {p}:job:{id}:ended           a list that gets one item when the job ends (wakes ?wait=)
    {p}:gone:{id}                tombstone (expired/deleted): outlives the document by 7 × result_ttl,
                                 so its URLs answer 410, not 404 (core.stores.TOMBSTONE_LIFETIMES)
    {p}:file:{id}:{name}         result bytes, TTL result_ttl      (ResultStore)
    {p}:templates                hash name → JSON summary of the latest version
    {p}:tpl:{name}:versions      list of versions, oldest first
    {p}:tpl:{name}:v:{version}   hash: docx, schema, rules, sample, meta (``:v:`` so that no
                                 version can be read as the ``versions`` list)
    {p}:adhoc:{sha256}           an ad-hoc template's .docx under its whole SHA-256 (its version), TTL result_ttl
    {p}:checked:{sha256}         an ad-hoc template's bytes passed the checks (check code version
                                 + bytes hashed), TTL result_ttl (service/check_cache.py)
    {p}:metrics:*                counters and histograms (core/metrics.py)
    {p}:result-expiry            sorted set: "{job id}/{stored name}" of every result file in the fs/s3
                                 store → when it may go (core/result_stores.py ExpiryIndex)
    {p}:result-sweep             lock: the pool sweeping expired files now (worker/result_sweep.py)
    {p}:result-sweep-full        lock, 24 h: the pool that last scanned the whole store
    {p}:lo-alive:{worker}        a worker's "LibreOffice alive" mark, short TTL
    {p}:owner:{client}:jobs      sorted set of one client's jobs in flight (per-key fairness)
    {p}:owner:{client}:renders   sorted set of one client's renders by creation time (GET /v1/renders)
    {p}:idem:{client}:{kind}:{h} an Idempotency-Key's claim: request fingerprint + job id, TTL result_ttl
    {p}:cache:{client}:{h}       render cache: request fingerprint → the job that rendered it, TTL result_ttl
    {p}:batch:{id}               batch document (JSON); ``:plan`` what assembly needs, ``:records`` the
                                 record job ids, ``:progress`` done/failed/total, ``:ended`` indexes
                                 that ended, ``:failures`` index → problem; all TTL result_ttl.
                                 Its ZIP and merged PDF are result files filed under the batch id.

RQ keeps its own keys (``rq:*``) for the queue and its registries.
"""

from __future__ import annotations


class Keys:
    """Redis key names, all under one prefix."""

    def __init__(self, prefix: str = "wenshu") -> None:
        self.prefix = prefix

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def job_ended(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:ended"

    def gone(self, job_id: str) -> str:
        """A job's tombstone: says it expired or was deleted once its document is gone."""
        return f"{self.prefix}:gone:{job_id}"

    def file(self, job_id: str, name: str) -> str:
        return f"{self.prefix}:file:{job_id}:{name}"

    @property
    def templates(self) -> str:
        return f"{self.prefix}:templates"

    def versions(self, name: str) -> str:
        return f"{self.prefix}:tpl:{name}:versions"

    def template(self, name: str, version: str) -> str:
        return f"{self.prefix}:tpl:{name}:v:{version}"

    def legacy_template(self, name: str, version: str) -> str:
        """Where releases before the ``:v:`` layout kept a version (migrated by ``wenshu seed``)."""
        return f"{self.prefix}:tpl:{name}:{version}"

    def adhoc(self, version: str) -> str:
        return f"{self.prefix}:adhoc:{version}"

    def checked(self, digest: str) -> str:
        return f"{self.prefix}:checked:{digest}"

    def metric(self, name: str) -> str:
        return f"{self.prefix}:metrics:{name}"

    def owner_jobs(self, client: str) -> str:
        """Job ids one client (a hash of its API key) has in flight: the per-key job limit."""
        return f"{self.prefix}:owner:{client}:jobs"

    def owner_renders(self, client: str) -> str:
        """One client's renders, scored by creation time: the listing ``GET /v1/renders`` pages through."""
        return f"{self.prefix}:owner:{client}:renders"

    def idempotency(self, client: str, kind: str, digest: str) -> str:
        """The claim an ``Idempotency-Key`` (hashed, as ``digest``) made for one client and endpoint."""
        return f"{self.prefix}:idem:{client}:{kind}:{digest}"

    def render_cache(self, client: str, digest: str) -> str:
        """The job that rendered a request with this fingerprint for this client."""
        return f"{self.prefix}:cache:{client}:{digest}"

    def batch(self, batch_id: str, part: str = "") -> str:
        """A batch's document, or one of its parts (plan, records, progress, ended, failures)."""
        return f"{self.prefix}:batch:{batch_id}" + (f":{part}" if part else "")

    def result_expiry(self) -> str:
        return f"{self.prefix}:result-expiry"

    def result_sweep(self, full: bool = False) -> str:
        return f"{self.prefix}:result-sweep-full" if full else f"{self.prefix}:result-sweep"

    def lo_alive(self, worker_name: str) -> str:
        """A worker's "LibreOffice alive" mark, refreshed while it runs (readiness, orphan sweeps)."""
        return f"{self.prefix}:lo-alive:{worker_name}"

