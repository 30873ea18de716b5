"""An API that wants bearer keys, on the session's Redis and worker: one factory for every module
that tells callers apart by API key (idempotency, listing, ...), instead of a copy in each."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import with_key


def keyed_api(*keys: str, **changes) -> tuple[Callable, Callable]:
    """``(keyed_app, as_key)`` for a test module: a module-scoped ``keyed_app`` fixture (the session's
    settings with ``api_keys=keys`` and ``changes``), and ``as_key(app, key=keys[0])``, a test client
    that sends that key with every request. Use as ``keyed_app, as_key = keyed_api(KEY_A, KEY_B)``."""

    @pytest.fixture(name="keyed_app", scope="module")
    def keyed_app(settings, workers):
        from service.app import create_app

        return create_app(settings.with_(api_keys=keys, **changes))

    def as_key(app, key: str = keys[0]):
        return with_key(app, key)

    return keyed_app, as_key
