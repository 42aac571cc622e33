"""The value types the services return: what the CLI prints and the API answers.

They are pydantic models so that the API's response models (and its OpenAPI
document) are exactly what the services give back; nothing here touches the
database or HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediaflow.db.enums import (
    AnalysisProvider,
    FileType,
    JobStatus,
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
    TranscriptionProvider,
)

__all__ = [
    "FileDetail",
    "JobCounts",
    "JobDetail",
    "JobPage",
    "JobSummary",
    "KeyframeOut",
    "LogEntry",
    "LogPage",
    "MediaOut",
    "ResultList",
    "ResultOut",
    "SegmentOut",
    "TimelineEvent",
    "TranscriptionOut",
    "WordOut",
]


# -- jobs ------------------------------------------------------------------------------


class JobCounts(BaseModel):
    """How many files of a job are in each status."""

    total: int = 0
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0


class JobSummary(BaseModel):
    """One job, as lists show it."""

    id: uuid.UUID
    name: str
    status: JobStatus
    options: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: JobCounts


class FileDetail(BaseModel):
    """One file of a job and how far it got."""

    id: uuid.UUID
    original_name: str
    status: MediaFileStatus
    media_type: MediaType | None
    file_type: FileType | None
    size_bytes: int | None
    duration_s: float | None
    error: str | None
    stage: ProcessingStage | None = Field(description="The stage of its latest log row.")
    progress: float = Field(ge=0, le=1, description="Stages finished of validation..finalize.")


class JobDetail(JobSummary):
    """One job with its files."""

    files: list[FileDetail]


class JobPage(BaseModel):
    """A page of jobs, newest first."""

    items: list[JobSummary]
    total: int
    limit: int
    offset: int


class LogEntry(BaseModel):
    """One processing_log row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    media_file_id: uuid.UUID | None
    stage: ProcessingStage
    status: ProcessingLogStatus
    attempt: int
    message: str | None
    details: dict[str, Any]
    duration_ms: int | None
    created_at: datetime


class LogPage(BaseModel):
    """Log rows oldest first; ``next_after``: pass it as ``after`` for the next page."""

    items: list[LogEntry]
    next_after: int | None


# -- media -----------------------------------------------------------------------------


class MediaOut(BaseModel):
    """Everything stored about one media file (the probe's metadata included)."""

    id: uuid.UUID
    job_id: uuid.UUID
    original_name: str
    status: MediaFileStatus
    error: str | None
    sha256: str | None
    size_bytes: int | None
    mime_type: str | None
    media_type: MediaType | None
    file_type: FileType | None
    duration_s: float | None
    width: int | None
    height: int | None
    fps: float | None
    sample_rate: int | None
    channels: int | None
    bit_rate: int | None
    codecs: dict[str, Any]
    streams: list[Any]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    model_config = ConfigDict(from_attributes=True)


class ResultOut(BaseModel):
    """One analysis result (flat: a page groups them by ``analysis_type``)."""

    id: uuid.UUID
    job_id: uuid.UUID
    provider: AnalysisProvider
    analysis_type: str
    model: str | None
    model_version: str | None
    result: dict[str, Any]
    confidence: float | None
    is_active: bool
    latency_ms: int | None
    created_at: datetime

    model_config = ConfigDict(from_attributes=True)


class ResultList(BaseModel):
    """Analysis results of one media file, ordered by type, provider, newest first."""

    items: list[ResultOut]


class WordOut(BaseModel):
    """One recognised word with its timing."""

    start: float
    end: float
    word: str
    probability: float | None = None


class SegmentOut(BaseModel):
    """One timed segment of a transcript."""

    start: float
    end: float
    text: str
    words: list[WordOut] = Field(default_factory=list)
    confidence: float | None = None
    speaker: str | None = None


class TranscriptionOut(BaseModel):
    """The active transcript of one media file."""

    id: uuid.UUID
    media_file_id: uuid.UUID
    provider: TranscriptionProvider
    model: str | None
    language: str | None
    language_probability: float | None = None
    text: str
    confidence: float | None
    latency_ms: int | None
    created_at: datetime
    segments: list[SegmentOut]

    model_config = ConfigDict(from_attributes=True)


class KeyframeOut(BaseModel):
    """One shot of a video: its span, the time of its chosen frame, its thumbnail."""

    shot: int
    start_s: float
    end_s: float
    timestamp_s: float
    width: int
    height: int
    sharpness: float | None
    url: str = Field(description="The thumbnail (image/jpeg).")


class TimelineEvent(BaseModel):
    """One stretch of a media file where a visual result says something, in time order.

    ``type``: ``shot`` (with its thumbnail), ``text`` (on-screen text), ``faces``,
    ``moderation`` (an NSFW score), ``colors`` (the main colours), ``audio`` (an audio
    event: speech, singing, music, silence or other).
    """

    type: str
    start_s: float
    end_s: float
    provider: str | None
    label: str
    value: Any = None
