"""``/jobs``: create (uploads or server-side paths), list, show, cancel, retry, log, events.

The routes are thin: ``services.jobs`` does the work (in the thread pool, since it
talks to PostgreSQL synchronously) and its value types are the response models, so
the OpenAPI document describes exactly what is answered.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from mediaflow.api.deps import RuntimeDep, get_reads
from mediaflow.api.errors import ERROR_RESPONSES
from mediaflow.api.uploads import (
    UploadBatch,
    read_small_body,
    receive_multipart,
    receive_urlencoded,
)
from mediaflow.db.enums import JobStatus
from mediaflow.errors import InvalidInput, UnsupportedMedia
from mediaflow.media.detect import detect
from mediaflow.media.limits import DecodeLimits
from mediaflow.runtime import Runtime
from mediaflow.services import job_reads, jobs
from mediaflow.services.schemas import JobDetail, JobPage, LogEntry, LogPage

router = APIRouter(tags=["jobs"])

JSON = "application/json"
# How often the event stream looks at the database, and how often it pings when idle.
POLL_S = 0.5
PING_S = 15


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Every error has the one JSON shape: reuse the schema ERROR_RESPONSES declares.
    described = {
        403: "A server-side path outside the allowed roots",
        409: "The job is not in a state that allows this",
        413: "An upload is over the size limit",
        415: "An upload is not media mediaflow can analyze",
    }
    template = ERROR_RESPONSES[422]
    return {
        status: {**copy.deepcopy(template), "description": described[status]} for status in statuses
    }


class CreateJobBody(BaseModel):
    """The JSON form of ``POST /jobs``: server-side paths only."""

    model_config = ConfigDict(extra="forbid")

    paths: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Files or folders under an allowed root."
    )
    name: str | None = Field(default=None, max_length=jobs.MAX_NAME_CHARS)
    providers: list[Annotated[str, Field(min_length=1)]] | None = None
    options: dict[str, Any] | None = None


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "paths": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "name": {"type": "string"},
        "providers": {"type": "string", "description": "Comma separated, or repeated."},
        "options": {"type": "string", "description": "A JSON object."},
    },
}
_CREATE_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _FORM_SCHEMA},
            "application/x-www-form-urlencoded": {
                "schema": {
                    **_FORM_SCHEMA,
                    "properties": {
                        k: v for k, v in _FORM_SCHEMA["properties"].items() if k != "files"
                    },
                }
            },
            "application/json": {"schema": CreateJobBody.model_json_schema()},
        },
    }
}


def _check_uploads(batch: UploadBatch, limits: DecodeLimits, *, alone: bool) -> None:
    """Detect each upload from its bytes; refuse the request only when nothing is media.

    As in the CLI, a bad file among good ones does not sink the batch: it is stored
    and its file fails alone, with its reason, in the validation stage. ``alone``: no
    server-side paths came with the uploads.
    """
    problems: list[InvalidInput] = []
    for upload in batch.files:
        try:
            detect(upload.path, limits)
        except InvalidInput as exc:
            # the client's name, not our temp name: it is the file they know
            problems.append(type(exc)(f"{upload.original_name}: {exc.message}", hint=exc.hint))
    if problems and alone and len(problems) == len(batch.files):
        raise problems[0]


def _create_from_json(raw: bytes, runtime: Runtime) -> JobDetail:
    try:
        body = CreateJobBody.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"invalid job request: {problems}") from None
    request = jobs.check_request(
        runtime, name=body.name, providers=body.providers, options=body.options
    )
    real = [jobs.confine(p, runtime.settings.allowed_roots) for p in body.paths]
    paths, names = jobs.expand(real)
    return jobs.submit_job(runtime, request, paths, names=names)


def _create_from_form(batch: UploadBatch, runtime: Runtime) -> JobDetail:
    request = jobs.check_request(
        runtime,
        name=batch.value("name") or None,
        providers=batch.values("providers"),
        options=jobs.parse_options(batch.value("options")),
    )
    given = [p for p in batch.values("paths") if p.strip()]
    real = [jobs.confine(p, runtime.settings.allowed_roots) for p in given]
    if not batch.files and not real:
        raise InvalidInput("no files uploaded and no paths given")
    _check_uploads(batch, DecodeLimits.of(runtime.settings), alone=not real)
    paths, names = jobs.expand(real) if real else ([], [])
    paths += [u.path for u in batch.files]
    names += [u.original_name for u in batch.files]
    return jobs.submit_job(runtime, request, paths, names=names)


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobDetail,
    responses=_errors(403, 413, 415),
    openapi_extra=_CREATE_OPENAPI,
    summary="Create a job from uploaded files or server-side paths",
)
async def create_job(request: Request, runtime: RuntimeDep) -> JobDetail:
    """Upload files (multipart field ``files``) or name server-side ``paths``; queue the job.

    Form fields: ``name``, ``providers`` (comma separated or repeated), ``options`` (a
    JSON object). The JSON body takes ``paths``, ``name``, ``providers``, ``options``.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await read_small_body(request)
        return await run_in_threadpool(_create_from_json, raw, runtime)
    if content_type == "application/x-www-form-urlencoded":
        fields = await receive_urlencoded(request)
        return await run_in_threadpool(_create_from_form, fields, runtime)
    if content_type != "multipart/form-data":
        raise UnsupportedMedia(
            f"unsupported request type {content_type or '(none)'!r}",
            hint="send multipart/form-data (uploads) or a form or JSON (paths)",
        )
    settings = runtime.settings
    batch = await receive_multipart(
        request,
        limit=settings.upload_max_bytes,
        temp_root=settings.data_dir / "uploads",
        total_limit=settings.upload_request_max_bytes,
    )
    try:
        return await run_in_threadpool(_create_from_form, batch, runtime)
    finally:
        # the content store has its own copies by now (or nothing was stored at all)
        batch.discard()


@router.get("/jobs", response_model=JobPage, summary="List jobs, newest first")
async def list_jobs(
    runtime: RuntimeDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> JobPage:
    """A page of jobs with their file counts."""
    return await run_in_threadpool(
        lambda: jobs.list_jobs(runtime, status=status, limit=limit, offset=offset)
    )


@router.get("/jobs/{job_id}", response_model=JobDetail, summary="One job and its files")
async def get_job(job_id: uuid.UUID, request: Request) -> Response:
    """The job, its counts, and each file's status, latest stage and progress."""
    # polled often: one statement on the event loop, JSON bytes from the rows (the
    # pool is fetched here, not as a dependency: each one costs FastAPI a solve)
    reads = await get_reads(request)
    return Response(await job_reads.job_detail_json(reads, job_id), media_type=JSON)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobDetail,
    responses=_errors(409),
    summary="Cancel a job",
)
async def cancel_job(job_id: uuid.UUID, runtime: RuntimeDep) -> JobDetail:
    """Waiting files are cancelled (their queued tasks too); a file being processed finishes."""
    return await run_in_threadpool(jobs.cancel_job, runtime, job_id)


@router.post(
    "/jobs/{job_id}/retry",
    response_model=JobDetail,
    responses=_errors(409),
    summary="Queue a job's failed files again",
)
async def retry_job(job_id: uuid.UUID, runtime: RuntimeDep) -> JobDetail:
    """Failed files go back to pending and are queued again; 409 when none failed."""
    return await run_in_threadpool(jobs.retry_job, runtime, job_id)


@router.get("/jobs/{job_id}/log", response_model=LogPage, summary="A job's processing log")
async def job_log(
    job_id: uuid.UUID,
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Only rows with a larger id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LogPage:
    """processing_log rows of the job, oldest first."""
    return await run_in_threadpool(jobs.job_log, runtime, job_id, after=after, limit=limit)


def _poll(runtime: Runtime, job_id: uuid.UUID, after: int) -> tuple[JobDetail, list[LogEntry]]:
    # the log first: a row written between the two reads then shows up next time, and
    # the job state sent is never older than the log rows sent with it
    rows: list[LogEntry] = []
    while True:
        page = jobs.job_log(runtime, job_id, after=after, limit=500)
        rows += page.items
        if page.next_after is None:
            break
        after = page.next_after
    return jobs.get_job(runtime, job_id), rows


async def _events(
    request: Request, runtime: Runtime, job_id: uuid.UUID
) -> AsyncIterator[ServerSentEvent]:
    last_json = ""
    after = 0
    while True:
        detail, rows = await run_in_threadpool(_poll, runtime, job_id, after)
        for row in rows:
            after = row.id
            yield ServerSentEvent(data=row.model_dump_json(), event="log", id=str(row.id))
        current = detail.model_dump_json()
        if current != last_json:
            last_json = current
            yield ServerSentEvent(data=current, event="job")
        # a cancelled job with a file still running is not over until finished_at is set
        if detail.status in jobs.TERMINAL and detail.counts.processing == 0:
            yield ServerSentEvent(data=json.dumps({"status": detail.status.value}), event="end")
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_S)


# One server-sent event, as the OpenAPI document describes each (the data is JSON text).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["job", "log", "end"]},
        "data": {"type": "string"},
        "id": {"type": "string"},
    },
}


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-sent events: `job` (detail JSON), `log` (a row), `end`.",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        }
    },
    summary="Live progress of a job (server-sent events)",
)
async def job_events(
    job_id: uuid.UUID, request: Request, runtime: RuntimeDep
) -> EventSourceResponse:
    """Stream the job's progress until it is completed, failed or cancelled."""
    # an unknown job is a 404 JSON error, not an empty stream
    await run_in_threadpool(jobs.get_job, runtime, job_id)
    return EventSourceResponse(_events(request, runtime, job_id), ping=PING_S)
