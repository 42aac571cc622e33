"""The runtime: everything a piece of mediaflow needs to do its work, built once at an edge.

An edge (a CLI command, the API's app factory, a worker, a Python caller of
``mediaflow.open``) builds one ``Runtime`` from its ``Settings`` and passes it down::

    Runtime
      .settings   the one settings object (MEDIAFLOW_*), never read again below
      .db         the database: URL, pooled engine, ``db.session()`` transactions
      .store      the content-addressed store of originals (local folder or S3)
      .providers  the provider registry (both kinds), built with these settings
      .queue      the task queue client (defer / cancel / live workers)
      .embedder   the sentence-embedding model of semantic search (loaded on first use)

Nothing below an edge reads global settings or takes a database URL: two runtimes
in one process (tests, a server and a worker) never see each other's database.
Parts are built on first use, so a command that needs no database starts none.
"""

from __future__ import annotations

import threading
from functools import cached_property
from types import TracebackType

from mediaflow.config import Settings
from mediaflow.db.session import Database, resolve_url
from mediaflow.media.avlog import route_ffmpeg_logs
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.providers.text_embedding import TextEmbedder
from mediaflow.queue import TaskQueue
from mediaflow.storage import ObjectStore, open_store

__all__ = ["Runtime"]


class Runtime:
    """Settings, database, content store, providers and queue of one configuration."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        store: ObjectStore | None = None,
        providers: ProviderRegistry | None = None,
        queue: TaskQueue | None = None,
    ) -> None:
        """Parts not given are built from ``settings`` on first use."""
        # libav's lines never between the CLI's own (dropped unless asked for)
        route_ffmpeg_logs(settings.ffmpeg_log_level)
        self.settings = settings
        self._lock = threading.Lock()
        # cached_property stores into __dict__: given parts take the same slot
        for name, part in (
            ("db", db),
            ("store", store),
            ("providers", providers),
            ("queue", queue),
        ):
            if part is not None:
                self.__dict__[name] = part

    def __repr__(self) -> str:
        where = (self.settings.database_url and "server") or "embedded"
        return f"Runtime({where} database, data dir {self.settings.data_dir})"

    @cached_property
    def db(self) -> Database:
        """The database (the embedded server is started here when no URL is configured)."""
        with self._lock:
            return Database(resolve_url(self.settings))

    @cached_property
    def store(self) -> ObjectStore:
        """The store of originals: ``MEDIAFLOW_STORAGE_URL``, or ``<data_dir>/originals``."""
        return open_store(self.settings)

    @cached_property
    def providers(self) -> ProviderRegistry:
        """Every provider, built with these settings."""
        return ProviderRegistry(self.settings)

    @cached_property
    def embedder(self) -> TextEmbedder:
        """The all-MiniLM-L6-v2 sentence embedder (the packaged model unless configured)."""
        return TextEmbedder(self.settings.embedding_model_dir)

    @cached_property
    def queue(self) -> TaskQueue:
        """The task queue on this runtime's database."""
        return TaskQueue(self.db)

    def close(self) -> None:
        """Close connections and unload models (parts are rebuilt if used again)."""
        providers = self.__dict__.get("providers")
        if providers is not None:
            providers.clear()
        embedder = self.__dict__.get("embedder")
        if embedder is not None:
            embedder.unload()
        queue = self.__dict__.pop("queue", None)
        if queue is not None:
            queue.close()
        db = self.__dict__.get("db")
        if db is not None:
            db.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
