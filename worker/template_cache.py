"""What a worker derives from a template's bytes alone, remembered per process by the bytes' digest.

Templates are immutable per version, and a worker renders the same few again and again: the
metadata rewrite (worker/doc_metadata.py) and the paragraph maps of warned renders
(worker/locate.py) depend on nothing but the template's bytes, so each is computed once per worker
and template (issue #12). The key is the SHA-256 of the bytes — not the bytes themselves, so a
cache entry never pins a template that only a key would hold — plus whatever else the value
depends on (a title, a part name). A changed template is other bytes, so another key: it can never
reuse an entry. Each cache is bounded by entries *and* by the bytes its values hold, least
recently used first out; a value larger than the whole budget is computed and not kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


def digest(data: bytes) -> bytes:
    """The key of ``data``: its SHA-256 (collisions are not a practical concern)."""
    return hashlib.sha256(data).digest()


class DigestCache(Generic[V]):
    """A bounded LRU of values computed from template bytes, keyed by their digest and a qualifier."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[V], int] = lambda _: 0) -> None:
        self.max_entries, self.max_bytes, self.size = max_entries, max_bytes, size
        self._entries: OrderedDict[tuple[bytes, Hashable], tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the CLI's preview and tests may render from threads
        self.hits = self.misses = 0

    def get(self, data: bytes, qualifier: Hashable, compute: Callable[[], V]) -> V:
        """The value for (``data``, ``qualifier``), computed by ``compute()`` when not remembered."""
        return self.get_by_digest(digest(data), qualifier, compute)

    def get_by_digest(self, data_digest: bytes, qualifier: Hashable, compute: Callable[[], V]) -> V:
        """:meth:`get` with the bytes' :func:`digest` already taken (a caller asking many times)."""
        key = (data_digest, qualifier)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[0]
            self.misses += 1
        value = compute()  # outside the lock: a slow computation must not stall other threads
        cost = self.size(value)
        if cost <= self.max_bytes:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = (value, cost)
                    self._bytes += cost
                self._evict()
        return value

    def _evict(self) -> None:
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, (_, cost) = self._entries.popitem(last=False)
            self._bytes -= cost

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes_held(self) -> int:
        """What the kept values weigh, as ``size`` measures them."""
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0
