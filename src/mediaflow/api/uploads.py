"""Multipart uploads streamed to temporary files, with the size limit enforced as they come.

Starlette's own form parser spools every file whole (to the system temp dir) before
the route runs, so a limit could only be checked after the bytes were taken. Here the
request body is fed chunk by chunk to python-multipart: a request whose
Content-Length is over the limit is refused before its body is read, and a file is
refused as soon as its bytes pass the limit. Files land under random names in a
private folder of the data dir (never a path built from the client's filename, which
is kept only as data, stripped of any directory part); ``UploadBatch.discard``
removes that folder whatever happened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import parse_qs

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from mediaflow.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "MULTIPART_OVERHEAD",
    "UploadBatch",
    "UploadedFile",
    "read_small_body",
    "receive_multipart",
    "receive_urlencoded",
    "safe_name",
]

# Room for boundaries, part headers and the small form fields next to the files.
MULTIPART_OVERHEAD = 64 * 1024
# Form fields are short text; a megabyte-long "name" is an attack, not a name.
_MAX_FIELD_BYTES = 64 * 1024
_MAX_FILES = 100
# A body without files (JSON or a plain form) names paths and options: 1 MiB is plenty.
SMALL_BODY_MAX = 1024 * 1024


@dataclass(frozen=True)
class UploadedFile:
    """One received file: where it lies now, the client's name for it, its size."""

    path: Path
    original_name: str
    size_bytes: int


@dataclass
class UploadBatch:
    """What one multipart request carried: files (in temp storage) and text fields."""

    folder: Path | None
    files: list[UploadedFile] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        """Every value given for the field ``name`` (repeated fields), in order."""
        return self.fields.get(name, [])

    def value(self, name: str) -> str | None:
        """The last value of the field ``name``, or None."""
        values = self.values(name)
        return values[-1] if values else None

    def discard(self) -> None:
        """Remove the temporary files (the content store keeps its own copies)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def safe_name(filename: str | None) -> str:
    """The client's filename reduced to its last part: no folders, no NULs, never empty."""
    name = (filename or "").replace("\x00", "").replace("\\", "/")
    base = PurePosixPath(name).name.strip()
    return base if base not in {"", ".", ".."} else "upload"


class _Receiver:
    """python-multipart callbacks that write file parts to disk and keep text fields."""

    def __init__(self, batch: UploadBatch, limit: int) -> None:
        self.batch = batch
        self.limit = limit
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.out: IO[bytes] | None = None
        self.path: Path | None = None
        self.filename: str | None = None
        self.field_name = ""
        self.size = 0
        self.text = bytearray()
        self.error: Exception | None = None

    # header parsing
    def on_part_begin(self) -> None:
        self.headers, self.header_field, self.header_value = {}, b"", b""
        self.size, self.text, self.filename = 0, bytearray(), None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower().strip()] = self.header_value.strip()
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise InvalidInput("a multipart part has no form-data name")
        self.field_name = params[b"name"].decode("utf-8", "replace")
        if b"filename" in params:
            if len(self.batch.files) >= _MAX_FILES:
                raise InvalidInput(f"at most {_MAX_FILES} files per request")
            self.filename = safe_name(params[b"filename"].decode("utf-8", "replace"))
            # a random name in our own folder: the client's name never becomes a path
            fd, name = tempfile.mkstemp(dir=self.batch.folder, prefix="part-")
            self.path = Path(name)
            self.out = os.fdopen(fd, "wb")

    # body
    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.out is not None:
            self.size += len(chunk)
            if self.size > self.limit:
                raise PayloadTooLarge(
                    f"{self.filename} is larger than the upload limit of {self.limit} bytes"
                )
            self.out.write(chunk)
        else:
            self.text += chunk
            if len(self.text) > _MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"form field {self.field_name!r} is too long")

    def on_part_end(self) -> None:
        if self.out is not None and self.path is not None:
            self.out.close()
            self.out = None
            if self.field_name != "files":
                raise InvalidInput(f"files go in the field 'files', not {self.field_name!r}")
            self.batch.files.append(UploadedFile(self.path, self.filename or "upload", self.size))
        else:
            value = self.text.decode("utf-8", "replace")
            self.batch.fields.setdefault(self.field_name, []).append(value)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


async def read_small_body(request: Request, limit: int = SMALL_BODY_MAX) -> bytes:
    """The whole body of a request that carries no files (JSON, a form); 413 past ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is over {limit} bytes")
    return bytes(body)


async def receive_urlencoded(request: Request) -> UploadBatch:
    """The fields of an application/x-www-form-urlencoded body (paths only: no files)."""
    body = await read_small_body(request)
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return UploadBatch(folder=None, fields=fields)


async def receive_multipart(
    request: Request, *, limit: int, temp_root: Path, total_limit: int | None = None
) -> UploadBatch:
    """Stream a multipart/form-data body into a new temp folder under ``temp_root``.

    Raises ``PayloadTooLarge`` (413) from Content-Length, or as soon as a file or the
    whole body passes the limit, and ``InvalidInput`` for a malformed body; on any
    error nothing of the request is left on disk.
    """
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data without a boundary")
    # ``limit`` is per file (as documented); the body as a whole may hold several
    # files: ``total_limit``, or as many full-size files as a request may carry
    total = total_limit if total_limit is not None else limit * _MAX_FILES
    body_limit = total + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_limit:
        # refused before a single byte of the body is read
        raise PayloadTooLarge(f"request body of {declared} bytes is over the limit of {total}")
    temp_root.mkdir(parents=True, exist_ok=True)
    batch = UploadBatch(folder=Path(tempfile.mkdtemp(dir=temp_root, prefix="upload-")))
    receiver = _Receiver(batch, limit)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.on_part_begin,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            # the file's own count first (its message names the file), then the body's:
            # a chunked body has no Content-Length, and many small parts add up too
            parser.write(chunk)
            if received > body_limit:
                raise PayloadTooLarge(f"request body is over the limit of {total} bytes")
        parser.finalize()
    except MultipartParseError as exc:
        receiver.close()
        batch.discard()
        raise InvalidInput(f"malformed multipart body: {exc}") from exc
    except BaseException:
        receiver.close()
        batch.discard()
        raise
    return batch
