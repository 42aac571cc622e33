"""Storage use-cases: check the configured store, and copy every object to another one.

``migrate`` copies a store to another (local to S3 and back): each object is fetched
to a local file (a local store's own file, a remote store's verified cache copy),
hashed against its key and stored under the same key at the destination. Objects
already there with the same size are skipped, so an interrupted run is resumed by
running it again; ``verify_existing`` re-hashes those too. Keys do not change, so
the database needs no update: point ``MEDIAFLOW_STORAGE_URL`` at the destination.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mediaflow.errors import IntegrityError, NotFound
from mediaflow.runtime import Runtime
from mediaflow.storage import ObjectStore, open_store_at

__all__ = ["MigrationReport", "check_store", "migrate"]

logger = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    """What a migration did: objects copied, already there, and refused (with why)."""

    source: str
    destination: str
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def check_store(runtime: Runtime) -> str:
    """Check the configured store (fail fast, one line); return its description."""
    store = runtime.store
    store.check()
    return store.describe()


def _state(source: ObjectStore, destination: ObjectStore, key: str, verify: bool) -> str:
    """``same``, ``missing`` or ``damaged`` (there, but another size or hash)."""
    try:
        size = destination.size(key)
    except NotFound:
        return "missing"
    if size != source.size(key):
        return "damaged"
    if verify:
        digest = hashlib.sha256()
        for chunk in destination.read_range(key):
            digest.update(chunk)
        return "same" if digest.hexdigest() == key else "damaged"
    return "same"


def migrate(
    runtime: Runtime,
    to_url: str,
    *,
    from_url: str | None = None,
    verify_existing: bool = False,
    on_object: Callable[[str, str], None] | None = None,
) -> MigrationReport:
    """Copy every object of the store at ``from_url`` (default: the configured one) to ``to_url``.

    ``on_object(key, outcome)`` is told ``copied``, ``skipped`` or ``failed`` per object.
    A store that cannot be reached stops the run (``StorageError``); run it again to
    resume. An object whose bytes do not match its key is reported and left behind.
    """
    source = runtime.store if from_url is None else open_store_at(runtime.settings, from_url)
    destination = open_store_at(runtime.settings, to_url)
    source.check()
    destination.check()
    report = MigrationReport(source.describe(), destination.describe())
    notify = on_object or (lambda key, outcome: None)
    for key in source.iter_keys():
        state = _state(source, destination, key, verify_existing)
        if state == "same":
            report.skipped += 1
            notify(key, "skipped")
            continue
        try:
            path = source.local_path(key)
            try:
                stored = destination.store_as(key, path, replace=state == "damaged")
            finally:
                source.release(key)
        except IntegrityError as exc:
            logger.warning("object %s not copied: %s", key, exc)
            report.failed.append((key, str(exc)))
            notify(key, "failed")
            continue
        report.copied += 1
        report.bytes_copied += stored.size_bytes
        notify(key, "copied")
    return report
