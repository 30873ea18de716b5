"""``wenshu serve``: the API under gunicorn (threads, because ``?wait=`` holds a request open).

SIGTERM makes gunicorn stop accepting, finish in-flight requests for up to ``graceful_timeout``
seconds, then exit: rolling deploys drop no request.
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from core.settings import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        for key, value in {"bind": f"{s.host}:{s.port}", "workers": 1, "worker_class": "gthread",
                           "threads": s.api_threads, "timeout": s.max_wait + 30,
                           "graceful_timeout": s.max_wait + 5, "accesslog": None,
                           "limit_request_line": 8190}.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app

        return create_app(self.settings)


def serve(settings: Settings) -> int:
    """Run the API until SIGTERM/SIGINT."""
    _Gunicorn(settings).run()
    return 0
