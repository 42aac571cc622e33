"""``/media/{id}``: one media file, its stored original, its results, exports, reanalysis.

Routes are ``def``: FastAPI runs them in its thread pool, so the blocking database
reads and file I/O never stall the event loop (nor the in-process worker on it).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from mediaflow.api.errors import ERROR_RESPONSES, error_response
from mediaflow.api.ranges import Unsatisfiable, iter_file, parse_range
from mediaflow.db.enums import (
    AnalysisProvider,
    FileType,
    JobStatus,
    MediaFileStatus,
    MediaType,
    TranscriptionProvider,
)
from mediaflow.db.models import AnalysisJob, AnalysisResult, MediaFile, Transcription
from mediaflow.db.session import session_scope
from mediaflow.errors import NotFound, Refused
from mediaflow.export import export
from mediaflow.pipeline.runner import select_providers
from mediaflow.pipeline.tasks import enqueue_files
from mediaflow.storage import ContentStore

router = APIRouter(prefix="/media", tags=["media"])

_ERROR_SCHEMA = ERROR_RESPONSES[404]["content"]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_SCHEMA}


# --- response models ---------------------------------------------------------------


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
    text: str
    confidence: float | None
    latency_ms: int | None
    created_at: datetime
    segments: list[SegmentOut]

    model_config = ConfigDict(from_attributes=True)


class ReanalyzeIn(BaseModel):
    """Which providers to run again; null or absent: those the job was created with."""

    providers: list[str] | None = None

    model_config = ConfigDict(extra="forbid")


# --- database reads ----------------------------------------------------------------


def _get_media(session: Session, media_id: uuid.UUID) -> MediaFile:
    media = session.get(MediaFile, media_id)
    if media is None:
        raise NotFound(f"media file {media_id} does not exist")
    return media


def load_media(media_id: uuid.UUID, url: str) -> MediaOut:
    """The media file ``media_id`` as its API model; ``NotFound`` when there is none."""
    with session_scope(url) as session:
        return MediaOut.model_validate(_get_media(session, media_id))


def load_results(
    media_id: uuid.UUID,
    url: str,
    *,
    analysis_type: str | None = None,
    provider: AnalysisProvider | None = None,
    include_inactive: bool = False,
) -> list[ResultOut]:
    """Results of one media file: active ones unless ``include_inactive``."""
    with session_scope(url) as session:
        _get_media(session, media_id)
        query = sa.select(AnalysisResult).where(AnalysisResult.media_file_id == media_id)
        if not include_inactive:
            query = query.where(AnalysisResult.is_active)
        if analysis_type is not None:
            query = query.where(AnalysisResult.analysis_type == analysis_type)
        if provider is not None:
            query = query.where(AnalysisResult.provider == provider)
        query = query.order_by(
            AnalysisResult.analysis_type,
            AnalysisResult.provider,
            AnalysisResult.created_at.desc(),
            AnalysisResult.id,
        )
        return [ResultOut.model_validate(row) for row in session.scalars(query)]


def load_transcription(
    media_id: uuid.UUID, url: str, provider: TranscriptionProvider | None = None
) -> TranscriptionOut:
    """The active transcription (the oldest active one when several providers made one)."""
    with session_scope(url) as session:
        _get_media(session, media_id)
        query = sa.select(Transcription).where(
            Transcription.media_file_id == media_id, Transcription.is_active
        )
        if provider is not None:
            query = query.where(Transcription.provider == provider)
        # the same choice as export.py, so that the page and the exports agree
        row = session.scalars(query.order_by(Transcription.created_at).limit(1)).first()
        if row is None:
            raise NotFound(f"media file {media_id} has no transcription")
        return TranscriptionOut.model_validate(row)


def _mark_for_reanalysis(media_id: uuid.UUID, url: str) -> None:
    """Set the file pending and its job running, as ``pipeline.reanalyze`` does."""
    with session_scope(url) as session:
        media = _get_media(session, media_id)
        if media.status is MediaFileStatus.PROCESSING:
            raise Refused(
                f"media file {media_id} is being processed", hint="wait until it is finished"
            )
        job = session.get(AnalysisJob, media.job_id)
        if job is None:  # the foreign key makes this impossible; keep mypy honest
            raise NotFound(f"job {media.job_id} does not exist")
        # pending again, and the job running again, so that readers see the new round
        media.status, media.error, media.finished_at = MediaFileStatus.PENDING, None, None
        job.status, job.finished_at, job.error = JobStatus.RUNNING, None, None


# --- helpers -----------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_PREFIXES = ("video/", "audio/", "image/")

EXPORT_TYPES: dict[str, str] = {
    "json": "application/json",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


def served_type(mime_type: str | None) -> str:
    """The Content-Type an original is served with: its own when it is plain media.

    Anything else (a failed upload that was really HTML, an SVG with scripts) goes
    out as ``application/octet-stream``, which no browser runs.
    """
    if mime_type and mime_type.startswith(_MEDIA_PREFIXES) and "svg" not in mime_type:
        return mime_type
    return "application/octet-stream"


def export_filename(original_name: str, fmt: str) -> str:
    """A download name from ``original_name``: its stem in safe characters, then ``.fmt``.

    Path parts (either separator) are dropped and anything but letters, digits, dot,
    dash and underscore becomes ``_``, so the name cannot break out of the header nor
    point into a folder on the client.
    """
    base = PureWindowsPath(PurePosixPath(original_name).name).name
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    safe = _UNSAFE.sub("_", stem).strip("._-")[:100]
    return f"{safe or 'media'}.{fmt}"


def _content_disposition(original_name: str, fmt: str) -> str:
    ascii_name = export_filename(original_name, fmt)
    # filename*: the original (Unicode) stem for clients that understand RFC 6266
    stem = PurePosixPath(original_name.replace("\\", "/")).stem or "media"
    utf8 = quote(f"{stem}.{fmt}", safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8}"


# --- routes ------------------------------------------------------------------------


@router.get(
    "/{media_id}",
    response_model=MediaOut,
    summary="One media file: metadata, status and error",
    responses={404: _error("No such media file")},
)
def get_media(media_id: uuid.UUID, request: Request) -> MediaOut:
    """All metadata of one media file, with its job, status and error."""
    return load_media(media_id, request.app.state.url)


_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@router.get(
    "/{media_id}/content",
    summary="The stored original (byte ranges supported)",
    response_class=Response,
    responses={
        200: {"description": "The whole original, with its MIME type", "content": _BINARY},
        206: {"description": "The first requested byte range", "content": _BINARY},
        404: _error("No such media file, or its original is missing"),
        416: _error("The range lies past the end (Content-Range: bytes */size)"),
    },
)
def get_content(media_id: uuid.UUID, request: Request) -> Response:
    """Stream the stored original; ``Range: bytes=a-b | a- | -n`` gives a 206.

    Only the first range of a multi-range header is answered. ``If-Range`` with an
    ETag other than the current one gives the whole file.
    """
    media, key = _media_and_key(media_id, request.app.state.url)
    store: ContentStore = request.app.state.store
    path = store.path_for(key)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"the stored original of media file {media_id} is missing") from None
    etag = f'"{media.sha256 or key}"'
    # nosniff: a browser must not render an upload as a page of this origin
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "X-Content-Type-Options": "nosniff"}
    media_type = served_type(media.mime_type)

    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # the client's copy is stale: it gets the whole new one
    try:
        byte_range = parse_range(range_header, size)
    except Unsatisfiable:
        return error_response(
            416,
            "range_not_satisfiable",
            f"range {range_header!r} lies outside the {size} bytes of the file",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(iter_file(path), media_type=media_type, headers=headers)
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = byte_range.content_range()
    return StreamingResponse(
        iter_file(path, byte_range.start, byte_range.length),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )


def _media_and_key(media_id: uuid.UUID, url: str) -> tuple[MediaOut, str]:
    with session_scope(url) as session:
        row = _get_media(session, media_id)
        media, key = MediaOut.model_validate(row), row.storage_key
    if key is None:
        raise NotFound(f"media file {media_id} has no stored original")
    return media, key


@router.get(
    "/{media_id}/results",
    response_model=ResultList,
    summary="Analysis results of one media file",
    responses={404: _error("No such media file")},
)
def get_results(
    media_id: uuid.UUID,
    request: Request,
    analysis_type: str | None = Query(None, alias="type", description="e.g. ocr, faces, scenes"),
    provider: AnalysisProvider | None = Query(None),
    include_inactive: bool = Query(False, description="also results a re-run superseded"),
) -> ResultList:
    """A flat list of results; each carries ``analysis_type`` so a page can group them."""
    items = load_results(
        media_id,
        request.app.state.url,
        analysis_type=analysis_type,
        provider=provider,
        include_inactive=include_inactive,
    )
    return ResultList(items=items)


@router.get(
    "/{media_id}/transcription",
    response_model=TranscriptionOut,
    summary="The active transcript, with timed segments and words",
    responses={404: _error("No such media file, or it has no transcription")},
)
def get_transcription(
    media_id: uuid.UUID,
    request: Request,
    provider: TranscriptionProvider | None = Query(None),
) -> TranscriptionOut:
    """The active transcription: text, language, model and segments."""
    return load_transcription(media_id, request.app.state.url, provider)


@router.get(
    "/{media_id}/export",
    summary="Download the results as JSON, WebVTT, SubRip or plain text",
    response_class=Response,
    responses={
        200: {
            "description": "The export, as an attachment",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/vtt": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        404: _error("No such media file, or no transcription for a subtitle format"),
    },
)
def get_export(
    media_id: uuid.UUID,
    request: Request,
    format: Literal["json", "vtt", "srt", "txt"] = Query("json"),
) -> Response:
    """One media file's results in ``format``; vtt, srt and txt need a transcription."""
    url = request.app.state.url
    media = load_media(media_id, url)
    body = export(media_id, format, url)
    return Response(
        content=body,
        media_type=EXPORT_TYPES[format],
        headers={"Content-Disposition": _content_disposition(media.original_name, format)},
    )


@router.post(
    "/{media_id}/reanalyze",
    response_model=MediaOut,
    status_code=202,
    summary="Run providers on one media file again (queued)",
    responses={
        400: _error("The body is not JSON"),
        404: _error("No such media file"),
        409: _error("The file is being processed or already queued"),
    },
)
def post_reanalyze(
    media_id: uuid.UUID, request: Request, body: ReanalyzeIn | None = None
) -> MediaOut:
    """Queue the file again; new results supersede the active ones (kept, inactive).

    Unknown providers are refused (422) before anything changes.
    """
    url = request.app.state.url
    providers = body.providers if body is not None else None
    if providers:
        select_providers(providers)  # raises InvalidInput before any write
    _mark_for_reanalysis(media_id, url)
    _enqueue(media_id, providers, url)
    return load_media(media_id, url)


def _enqueue(media_id: uuid.UUID, providers: list[str] | None, url: str) -> None:
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        enqueue_files([media_id], providers=providers, url=url)
    except AlreadyEnqueued:
        # the file waits in the queue already; that task will run (with its own providers)
        raise Refused(
            f"media file {media_id} is already queued", hint="wait until it is finished"
        ) from None
