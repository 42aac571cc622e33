"""The plumbing every fake server shares: a real ``ThreadingHTTPServer`` on a free
loopback port, served from a thread, with a queue of scripted replies.

A fake subclasses ``LoopbackServer`` and gives ``_handler_class`` (its request
handler); ``_stopping`` is set when the server stops, so that a handler holding an
answer (a stalled server) can let it go.
"""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, Self, TypeVar

ReplyT = TypeVar("ReplyT")


class LoopbackServer(Generic[ReplyT]):
    """A loopback HTTP server in a thread; use as a context manager."""

    def __init__(self) -> None:
        self._script: deque[ReplyT] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: ReplyT) -> None:
        """Queue answers for the next requests (after the key check), in order."""
        with self._lock:
            self._script.extend(replies)

    def _next_scripted(self) -> ReplyT | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # held answers go out now (to clients long gone)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError
