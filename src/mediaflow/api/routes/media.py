"""``/media/{id}``: one media file, its stored original, its results, exports, reanalysis.

The routes translate HTTP to ``services.media`` and back (ranges, download names,
content types). They are ``def``: FastAPI runs them in its thread pool, so blocking
database reads and file I/O never stall the event loop (nor the in-process worker).
"""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath, PureWindowsPath
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from mediaflow.api.deps import RuntimeDep
from mediaflow.api.errors import documented_error, error_response
from mediaflow.api.images import CACHE_FOREVER, JPEG_RESPONSE
from mediaflow.api.ranges import Unsatisfiable, parse_range
from mediaflow.db.enums import AnalysisProvider, TranscriptionProvider
from mediaflow.services import media as media_service
from mediaflow.services.schemas import (
    KeyframeOut,
    MediaOut,
    ResultList,
    TimelineEvent,
    TranscriptionOut,
)

router = APIRouter(prefix="/media", tags=["media"])


class ReanalyzeIn(BaseModel):
    """Which providers to run again; null or absent: those the job was created with."""

    providers: list[str] | None = None

    model_config = ConfigDict(extra="forbid")


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
    responses={404: documented_error("No such media file")},
)
def get_media(media_id: uuid.UUID, runtime: RuntimeDep) -> MediaOut:
    """All metadata of one media file, with its job, status and error."""
    return media_service.get_media(runtime, media_id)


_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@router.get(
    "/{media_id}/content",
    summary="The stored original (byte ranges supported)",
    response_class=Response,
    responses={
        200: {"description": "The whole original, with its MIME type", "content": _BINARY},
        206: {"description": "The first requested byte range", "content": _BINARY},
        404: documented_error("No such media file, or its original is missing"),
        416: documented_error("The range lies past the end (Content-Range: bytes */size)"),
    },
)
def get_content(media_id: uuid.UUID, request: Request, runtime: RuntimeDep) -> Response:
    """Stream the stored original; ``Range: bytes=a-b | a- | -n`` gives a 206.

    Only the first range of a multi-range header is answered. ``If-Range`` with an
    ETag other than the current one gives the whole file.
    """
    stored = media_service.original(runtime, media_id)
    size, etag = stored.size_bytes, stored.etag
    # nosniff: a browser must not render an upload as a page of this origin
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "X-Content-Type-Options": "nosniff"}
    media_type = served_type(stored.media.mime_type)
    expires_s = runtime.settings.storage_presigned_redirect_s
    if expires_s:
        # the object store serves the bytes (and the ranges) itself: the API stays light
        url = stored.presigned_url(expires_s, media_type)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})

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
        return StreamingResponse(stored.read(), media_type=media_type, headers=headers)
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = byte_range.content_range()
    return StreamingResponse(
        stored.read(byte_range.start, byte_range.length),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )


@router.get(
    "/{media_id}/results",
    response_model=ResultList,
    summary="Analysis results of one media file",
    responses={404: documented_error("No such media file")},
)
def get_results(
    media_id: uuid.UUID,
    runtime: RuntimeDep,
    analysis_type: str | None = Query(None, alias="type", description="e.g. ocr, faces, scenes"),
    provider: AnalysisProvider | None = Query(None),
    include_inactive: bool = Query(False, description="also results a re-run superseded"),
) -> ResultList:
    """A flat list of results; each carries ``analysis_type`` so a page can group them."""
    items = media_service.list_results(
        runtime,
        media_id,
        analysis_type=analysis_type,
        provider=provider,
        include_inactive=include_inactive,
    )
    return ResultList(items=items)


class KeyframeList(BaseModel):
    """The shots of a video, in order, each with its keyframe's thumbnail."""

    items: list[KeyframeOut]


class Timeline(BaseModel):
    """Shots, on-screen text, faces, moderation and colours over time, in time order."""

    items: list[TimelineEvent]


@router.get(
    "/{media_id}/keyframes",
    response_model=KeyframeList,
    summary="The shots of a video and their keyframe thumbnails",
    responses={404: documented_error("No such media file")},
)
def get_keyframes(media_id: uuid.UUID, runtime: RuntimeDep) -> KeyframeList:
    """One entry per shot (none for audio and images): span, keyframe time, thumbnail URL."""
    return KeyframeList(items=media_service.keyframes(runtime, media_id))


@router.get(
    "/{media_id}/keyframes/{shot}",
    summary="The thumbnail of one shot's keyframe (JPEG)",
    response_class=Response,
    responses={
        200: JPEG_RESPONSE,
        404: documented_error("No such media file or shot"),
    },
)
def get_keyframe(
    media_id: uuid.UUID,
    runtime: RuntimeDep,
    shot: int = PathParam(ge=0, le=2**31 - 1),
) -> Response:
    """The JPEG (content-addressed: it never changes, so clients may cache it for good)."""
    data = media_service.keyframe_image(runtime, media_id, shot)
    return Response(
        data,
        media_type="image/jpeg",
        headers=CACHE_FOREVER,
    )


@router.get(
    "/{media_id}/timeline",
    response_model=Timeline,
    summary="What is on screen when: shots, text, faces, moderation, colours",
    responses={404: documented_error("No such media file")},
)
def get_timeline(media_id: uuid.UUID, runtime: RuntimeDep) -> Timeline:
    """Every visual result's per-frame spans and the shots, in time order."""
    return Timeline(items=media_service.timeline(runtime, media_id))


@router.get(
    "/{media_id}/transcription",
    response_model=TranscriptionOut,
    summary="The active transcript, with timed segments and words",
    responses={404: documented_error("No such media file, or it has no transcription")},
)
def get_transcription(
    media_id: uuid.UUID,
    runtime: RuntimeDep,
    provider: TranscriptionProvider | None = Query(None),
) -> TranscriptionOut:
    """The active transcription: text, language, model and segments."""
    return media_service.get_transcription(runtime, media_id, provider)


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
        404: documented_error("No such media file, or no transcription for a subtitle format"),
    },
)
def get_export(
    media_id: uuid.UUID,
    runtime: RuntimeDep,
    format: Literal["json", "vtt", "srt", "txt"] = Query("json"),
) -> Response:
    """One media file's results in ``format``; vtt, srt and txt need a transcription."""
    media = media_service.get_media(runtime, media_id)
    body = media_service.export(runtime, media_id, format)
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
        400: documented_error("The body is not JSON"),
        404: documented_error("No such media file"),
        409: documented_error("The file is being processed or already queued"),
    },
)
def post_reanalyze(
    media_id: uuid.UUID, runtime: RuntimeDep, body: ReanalyzeIn | None = None
) -> MediaOut:
    """Queue the file again; new results supersede the active ones (kept, inactive).

    Unknown providers are refused (422) before anything changes.
    """
    providers = body.providers if body is not None else None
    media_service.reanalyze(runtime, media_id, providers, queue=True)
    return media_service.get_media(runtime, media_id)
