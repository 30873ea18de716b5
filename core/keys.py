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
    {p}:adhoc:{version}          an ad-hoc template's .docx, TTL result_ttl
    {p}:metrics:*                counters and histograms (core/metrics.py)
    {p}:lo-alive:{worker}        a worker's "LibreOffice alive" mark, short TTL
    {p}:owner:{client}:jobs      sorted set of one client's jobs in flight (per-key fairness)

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

    def metric(self, name: str) -> str:
        return f"{self.prefix}:metrics:{name}"

    def owner_jobs(self, client: str) -> str:
        """Job ids one client (a hash of its API key) has in flight: the per-key job limit."""
        return f"{self.prefix}:owner:{client}:jobs"

    def lo_alive(self, worker_name: str) -> str:
        """A worker's "LibreOffice alive" mark, refreshed while it runs (readiness, orphan sweeps)."""
        return f"{self.prefix}:lo-alive:{worker_name}"

