"""Files in, one analysis_job and one media_file per file out.

``ingest`` checks every path first (a missing one is an error before anything is
written), stores every file in the content store (bad ones too: validation is a
later pipeline stage, so nothing is lost and a failure is attributable to its
file), and only then writes the job, its media_file rows and one ``ingest``
processing_log row per file, in one short transaction.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mediaflow.db.enums import (
    JobStatus,
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
)
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.errors import InvalidInput, MediaflowError, NotFound
from mediaflow.media.detect import sniff_media_type
from mediaflow.pipeline.log import LogEvent, add_event
from mediaflow.runtime import Runtime
from mediaflow.storage import StoredObject

__all__ = ["IngestResult", "SourceFile", "collect_files", "ingest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` created: the job, its media files (in order), and what it left out."""

    job_id: uuid.UUID
    media_file_ids: list[uuid.UUID]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest and the name it gets in the database."""

    path: Path
    original_name: str


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _walk(
    folder: Path, root: Path, files: list[SourceFile], skipped: list[tuple[Path, str]]
) -> None:
    """Add the files under ``folder`` (sorted by name, depth first) to ``files``."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        skipped.append((folder, f"cannot list folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        if _is_hidden(entry):
            skipped.append((entry, "hidden"))
            continue
        name = entry.relative_to(root).as_posix()
        if entry.is_symlink():
            target = entry.resolve()
            # A link may only name something inside the folder that was given: following
            # it elsewhere would ingest files the caller never pointed at.
            if not target.is_relative_to(root.resolve()):
                skipped.append((entry, "symlink to outside the folder"))
            elif target.is_dir():
                # Its target is inside the folder and gets walked there; following the
                # link too would ingest it twice (or loop forever).
                skipped.append((entry, "symlink to a folder"))
            elif target.is_file():
                files.append(SourceFile(entry, name))
            else:
                skipped.append((entry, "broken symlink"))
        elif entry.is_dir():
            _walk(entry, root, files, skipped)
        elif entry.is_file():
            files.append(SourceFile(entry, name))
        else:
            skipped.append((entry, "not a regular file"))


def collect_files(paths: Sequence[Path]) -> tuple[list[SourceFile], list[tuple[Path, str]]]:
    """The files named by ``paths`` (folders recursed) and what was left out, with why.

    Raises ``NotFound`` naming every missing path, before anything else happens.
    Hidden entries inside folders are skipped; a file named explicitly is always taken.
    The same file reached twice is taken once.
    """
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise NotFound(f"no such file or folder: {', '.join(missing)}")
    files: list[SourceFile] = []
    skipped: list[tuple[Path, str]] = []
    for given in map(Path, paths):
        if given.is_dir():
            _walk(given, given, files, skipped)
        elif given.is_file():
            files.append(SourceFile(given, given.name))
        else:
            skipped.append((given, "not a regular file"))
    seen: set[Path] = set()
    unique: list[SourceFile] = []
    for source in files:
        real = source.path.resolve()
        if real in seen:
            skipped.append((source.path, "listed twice"))
            continue
        seen.add(real)
        unique.append(source)
    return unique, skipped


def _default_name(paths: Sequence[Path], count: int) -> str:
    first = Path(paths[0])
    # "." and "foo/.." have no useful name of their own; the folder they mean does.
    label = first.name if first.name not in {"", ".", ".."} else first.resolve().name
    label = label or str(first)
    return label if count == 1 else f"{label} ({count} files)"


def _job_options(options: dict[str, Any] | None, providers: Sequence[str] | None) -> dict[str, Any]:
    merged = dict(options or {})
    # None means "the default local providers", decided when the job runs.
    merged["providers"] = list(providers) if providers is not None else merged.get("providers")
    try:
        json.dumps(merged)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"job options are not JSON: {exc}") from exc
    return merged


def ingest(
    runtime: Runtime,
    paths: Sequence[Path],
    *,
    name: str | None = None,
    providers: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> IngestResult:
    """Store ``paths`` (folders recursed) and create one pending job with one media_file each.

    ``providers`` (None: the default local ones) is kept in the job's options. Every
    file is stored and gets a pending media_file, however bad its content; a file that
    cannot even be read is reported in ``skipped``. Raises ``NotFound`` for a missing
    path and ``InvalidInput`` when nothing is left to ingest, both before any row is
    written.

    ``names`` (one per path, each path a file) gives the files the names they get in
    the database instead of their own: uploads lie under random temporary names.
    """
    if not paths:
        raise InvalidInput("no files or folders given")
    job_options = _job_options(options, providers)
    if names is not None:
        if len(names) != len(paths) or not all(Path(p).is_file() for p in paths):
            raise InvalidInput("names need one regular file each")
        sources = [SourceFile(Path(p), n) for p, n in zip(paths, names, strict=True)]
        skipped: list[tuple[Path, str]] = []
    else:
        sources, skipped = collect_files(paths)
    if not sources:
        raise InvalidInput(
            "no files to ingest", hint=f"{len(skipped)} skipped" if skipped else "folders are empty"
        )
    store = runtime.store

    # Bytes first, with no transaction open: copying may take long. When the rows then
    # cannot be written, the objects this call added are removed again.
    stored: list[tuple[SourceFile, StoredObject, int]] = []
    for source in sources:
        started = time.perf_counter()
        try:
            obj = store.store(source.path)
        except (OSError, MediaflowError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            skipped.append((source.path, f"cannot read: {reason}"))
            continue
        stored.append((source, obj, round((time.perf_counter() - started) * 1000)))
    # which queue each file goes to (``queue.queue_for``): its kind by magic numbers
    kinds = [sniff_media_type(source.path) for source, _, _ in stored]
    if not stored:
        raise InvalidInput("no file could be read", hint="; ".join(f"{p}: {r}" for p, r in skipped))

    job_id = uuid.uuid4()
    media_file_ids = [uuid.uuid4() for _ in stored]
    try:
        _record(
            runtime,
            job_id=job_id,
            media_file_ids=media_file_ids,
            stored=stored,
            kinds=kinds,
            name=name or _default_name(list(map(Path, names or paths)), len(stored)),
            job_options=job_options,
        )
    except BaseException:
        # Nothing was recorded: the originals this call added would be orphans.
        _drop_unrecorded(runtime, [obj for _, obj, _ in stored])
        raise
    return IngestResult(job_id=job_id, media_file_ids=media_file_ids, skipped=skipped)


def _record(
    runtime: Runtime,
    *,
    job_id: uuid.UUID,
    media_file_ids: list[uuid.UUID],
    stored: list[tuple[SourceFile, StoredObject, int]],
    kinds: list[MediaType | None],
    name: str,
    job_options: dict[str, Any],
) -> None:
    """Write the job, its media_file rows and their ``ingest`` log rows in one transaction."""
    with runtime.db.session() as session:
        session.add(
            AnalysisJob(
                id=job_id,
                name=name,
                status=JobStatus.PENDING,
                options=job_options,
            )
        )
        # The job row must exist before its files reference it.
        session.flush()
        for media_file_id, (source, obj, _) in zip(media_file_ids, stored, strict=True):
            session.add(
                MediaFile(
                    id=media_file_id,
                    job_id=job_id,
                    original_name=source.original_name,
                    storage_key=obj.key,
                    sha256=obj.sha256,
                    size_bytes=obj.size_bytes,
                    status=MediaFileStatus.PENDING,
                )
            )
        session.flush()
        for media_file_id, (_, obj, duration_ms), kind in zip(
            media_file_ids, stored, kinds, strict=True
        ):
            add_event(
                session,
                LogEvent(
                    job_id, media_file_id, ProcessingStage.INGEST, ProcessingLogStatus.COMPLETED,
                    details={
                        "sha256": obj.sha256,
                        "size_bytes": obj.size_bytes,
                        "deduplicated": obj.deduplicated,
                        "kind": kind.value if kind is not None else None,
                    },
                    duration_ms=duration_ms,
                ),
            )  # fmt: skip


def _drop_unrecorded(runtime: Runtime, objects: Sequence[StoredObject]) -> None:
    """Remove the originals this ingest wrote (not the deduplicated ones) that no row uses.

    Called when the rows could not be written (the database went away between storing
    and recording). A key some committed row refers to (the same bytes ingested
    meanwhile) stays; when the database cannot even be asked, nothing can have been
    committed against a key that was new a moment ago, so the new objects go.
    """
    keys = {obj.key for obj in objects if not obj.deduplicated}
    if not keys:
        return
    referenced: set[str] = set()
    try:
        with runtime.db.session() as session:
            referenced = set(
                session.scalars(
                    select(MediaFile.storage_key).where(MediaFile.storage_key.in_(keys))
                )
            )
    except Exception as exc:  # still unavailable: see above
        log.debug("cannot check references of unrecorded originals: %s", exc)
    for key in sorted(keys - referenced):
        try:
            runtime.store.delete(key)
        except Exception as exc:  # the caller sees the original failure
            log.warning("could not remove unrecorded original %s: %s", key, exc)
