"""The processing_log: one row per event of one stage of one file.

``LogEvent`` is one row as a value. ``add_event`` puts it in a session the caller
already has (so that it commits or rolls back with the caller's own writes).
``stage_timer`` wraps a whole step: it writes ``started``, times the step, and writes
``completed`` or ``failed``, each through a writer that commits on its own (the
pipeline's ``Records.log``), so the log survives a failure of the step.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import ProcessingLogStatus, ProcessingStage
from mediaflow.db.models import ProcessingLog
from mediaflow.errors import MediaflowError

__all__ = [
    "LogEvent",
    "LogWriter",
    "StageStep",
    "add_event",
    "add_events",
    "close_step",
    "error_message",
    "open_step",
    "stage_timer",
]


@dataclass(frozen=True)
class LogEvent:
    """One processing_log row, before it is written."""

    job_id: uuid.UUID
    media_file_id: uuid.UUID | None
    stage: ProcessingStage
    status: ProcessingLogStatus
    attempt: int = 1
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    duration_ms: int | None = None
    # when it happened (a writer that batches rows sets it); None: when it is written
    at: datetime | None = None


LogWriter = Callable[[LogEvent], None]


def add_event(session: Session, event: LogEvent) -> ProcessingLog:
    """Add ``event`` as a processing_log row to ``session`` (the caller commits)."""
    row = ProcessingLog(**_values(event))
    session.add(row)
    return row


def _values(event: LogEvent) -> dict[str, Any]:
    values: dict[str, Any] = {
        "job_id": event.job_id,
        "media_file_id": event.media_file_id,
        "stage": event.stage,
        "status": event.status,
        "attempt": event.attempt,
        "message": event.message,
        "details": dict(event.details),
        "duration_ms": event.duration_ms,
    }
    if event.at is not None:
        values["created_at"] = event.at
    return values


def add_events(session: Session, events: Sequence[LogEvent]) -> None:
    """Insert ``events`` in order, in one statement (the caller commits)."""
    if not events:
        return
    # Rows with and without their own time take different column lists: one INSERT each.
    stamped = [_values(e) for e in events if e.at is not None]
    unstamped = [_values(e) for e in events if e.at is None]
    if stamped and unstamped:  # keep the order (ids) of mixed batches: one by one
        for event in events:
            add_event(session, event)
        session.flush()
        return
    # A multi-row VALUES on the table: one statement (the ORM's bulk insert would split
    # the rows by which of their values are NULL).
    table = cast(sa.Table, ProcessingLog.__table__)
    session.execute(sa.insert(table).values(stamped or unstamped))


def error_message(exc: BaseException) -> str:
    """A one-line message for ``exc``, as processing_log and media_file.error show it.

    A ``MediaflowError`` is written for people already (``str(exc)``); anything else
    gets its type name in front, since "list index out of range" alone says little.
    """
    text = str(exc) if isinstance(exc, MediaflowError) else f"{type(exc).__name__}: {exc}"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@dataclass
class StageStep:
    """What the body of a ``stage_timer`` block may add to its ``completed`` row."""

    job_id: uuid.UUID
    media_file_id: uuid.UUID | None
    stage: ProcessingStage
    attempt: int = 1
    details: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    started: float = field(default_factory=time.perf_counter)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def open_step(
    write: LogWriter,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID | None,
    stage: ProcessingStage,
    attempt: int = 1,
) -> StageStep:
    """Log ``stage`` as started and return its step; ``close_step`` ends it.

    For steps that run together (one decode pass makes the audio and the frames):
    each is opened and closed on its own, with its own duration.
    """
    write(LogEvent(job_id, media_file_id, stage, ProcessingLogStatus.STARTED, attempt=attempt))
    return StageStep(job_id=job_id, media_file_id=media_file_id, stage=stage, attempt=attempt)


def close_step(
    write: LogWriter,
    step: StageStep,
    error: BaseException | None = None,
    *,
    duration_ms: int | None = None,
) -> None:
    """Log ``step`` as completed, or failed with ``error``; a write failure is raised.

    ``duration_ms``: the step's own time when it shared its wall time with another
    (default: the time since it was opened).
    """
    duration = _elapsed_ms(step.started) if duration_ms is None else duration_ms
    if error is None:
        write(
            LogEvent(
                step.job_id, step.media_file_id, step.stage, ProcessingLogStatus.COMPLETED,
                attempt=step.attempt, message=step.message, details=step.details,
                duration_ms=duration,
            )
        )  # fmt: skip
        return
    details = {**step.details, "error_type": type(error).__name__}
    if isinstance(error, MediaflowError):
        details["error_code"] = error.code
    write(
        LogEvent(
            step.job_id, step.media_file_id, step.stage, ProcessingLogStatus.FAILED,
            attempt=step.attempt, message=error_message(error), details=details,
            duration_ms=duration,
        )
    )  # fmt: skip


@contextmanager
def stage_timer(
    write: LogWriter,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID | None,
    stage: ProcessingStage,
    attempt: int = 1,
) -> Iterator[StageStep]:
    """Log ``stage`` as started, run the block, then log it completed or failed.

    The block gets a ``StageStep``: what it puts in ``step.details`` (and
    ``step.message``) goes into the ``completed`` row, and ``step.attempt`` (raised by
    retries) is the attempt the final row reports. When the block raises, a
    ``failed`` row with the error's one-line message, the details set so far and the
    duration is written, and the exception is re-raised unchanged.
    """
    step = open_step(write, job_id, media_file_id, stage, attempt)
    try:
        yield step
    except Exception as exc:
        try:
            close_step(write, step, exc)
        except Exception as log_exc:
            # The step's own error is the one that matters to the caller; losing the
            # log row (database gone, details not JSON) must not replace it, only be
            # noted on it.
            exc.add_note(f"processing_log: could not record the failure: {log_exc}")
        raise
    close_step(write, step)
