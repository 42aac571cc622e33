"""The machinery every cloud vendor fake shares: a real loopback HTTP server, scripted
failures, recorded requests.

A vendor fake subclasses ``FakeVendor`` and says what its vendor documents: how a
request proves its key (``authorized``), what a wrong key gets back
(``unauthorized``), the vendor's error body (``error_body``), and the routes
(``handle``). Everything else is shared:

- ``script(Reply(...))`` queues answers given after the key check instead of the
  real one, one per request, in order: ``Reply(429, headers={"Retry-After": "7"})``,
  ``Reply(503)``, ``Reply(200, body=b"<html>")`` (a malformed body),
  ``Reply(hold=True)`` (no answer until the server stops: a client timeout without
  a race against the machine's speed). A reply without a body gets the vendor's own
  error body for its status (``render``).
- ``requests`` records each request (method, path, query, headers, body) and the
  status it got.

Speech fakes really transcribe the audio they receive, with mediaflow's local
faster-whisper on the bundled tiny.en (``transcribe_audio``), and answer in their
vendor's shape; vision fakes derive their answer from the image they receive.
"""

from __future__ import annotations

import json
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from mediaflow.db.enums import MediaType
from mediaflow.providers.base import MediaInput, TranscriptOutput
from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_server import _whisper


@dataclass
class Reply:
    """One answer: status, body (dict/list: JSON; bytes/str: as is), headers."""

    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay_s: float = 0.0
    hold: bool = False


@dataclass
class Request:
    """What the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    answered: int = 0

    def json(self) -> Any:
        """The body as JSON (None when it is not)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        """A multipart/form-data body: name -> (file name, bytes)."""
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return {}
        message = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + self.body
        )
        parts: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                parts[name] = (part.get_filename(), payload)
        return parts


class FakeVendor(LoopbackServer[Reply]):
    """Base of the vendor fakes; use as a context manager."""

    #: a key that looks like the vendor's
    default_key = "fake-key-0123456789abcdef"

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key or self.default_key
        self.requests: list[Request] = []
        super().__init__()

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return self.root_url

    # -- what a vendor fake says ------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        """Whether the request carries the right key."""
        raise NotImplementedError

    def unauthorized(self, request: Request) -> Reply:
        """The vendor's answer to a wrong key."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        """The vendor's error body for ``status``."""
        raise NotImplementedError

    def handle(self, request: Request) -> Reply:
        """The real answer to an authorized request."""
        raise NotImplementedError

    def render(self, reply: Reply, request: Request) -> Reply:
        """A scripted reply in the vendor's shape (a default error body by status)."""
        if reply.body is None and reply.status >= 400:
            message = DEFAULT_MESSAGES.get(reply.status, "scripted failure")
            return Reply(reply.status, self.error_body(reply.status, message), reply.headers,
                         reply.content_type, reply.delay_s, reply.hold)  # fmt: skip
        return reply

    # -- serving ----------------------------------------------------------------------

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
        if not self.authorized(request):
            reply = self.unauthorized(request)
        else:
            scripted = self._next_scripted()
            if scripted is None or scripted.status == PASS.status:
                reply = self.handle(request)
            else:
                reply = self.render(scripted, request)
        request.answered = reply.status
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                request = Request(
                    method=self.command, path=urllib.parse.unquote(url.path),
                    query=urllib.parse.parse_qs(url.query),
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                )  # fmt: skip
                reply = fake._answer(request)
                if reply.hold:
                    fake._stopping.wait()
                elif reply.delay_s:
                    threading.Event().wait(reply.delay_s)
                if isinstance(reply.body, bytes):
                    data = reply.body
                elif isinstance(reply.body, str):
                    data = reply.body.encode()
                elif reply.body is None:
                    data = b""
                else:
                    data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815

        return Handler


#: a scripted "answer as usual" (to fail a later request of a multi-request flow)
PASS = Reply(status=0)

DEFAULT_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def transcribe_audio(data: bytes, suffix: str = ".wav") -> TranscriptOutput:
    """Really transcribe uploaded audio with the bundled tiny.en (raises ProviderError
    on audio that cannot be decoded)."""
    with tempfile.TemporaryDirectory(prefix="fake-cloud-") as work:
        path = Path(work) / f"upload{suffix}"
        path.write_bytes(data)
        return _whisper().transcribe(
            MediaInput(path=path, media_type=MediaType.AUDIO, audio_path=path)
        )


def words_of(output: TranscriptOutput) -> list[tuple[float, float, str, float]]:
    """(start, end, word, probability) of every word of a transcript."""
    return [
        (w.start, w.end, w.word, w.probability if w.probability is not None else 0.9)
        for s in output.segments
        for w in s.words
    ]


def image_facts(data: bytes) -> dict[str, Any]:
    """What a vision fake "sees" in an image: its size and brightest colour channel,
    so that its labels depend on the picture it really received."""
    import io

    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        rgb = image.convert("RGB")
        means = ImageStat.Stat(rgb).mean
    colour = ("red", "green", "blue")[max(range(3), key=lambda i: means[i])]
    return {"width": rgb.width, "height": rgb.height, "colour": colour,
            "format": "JPEG" if data[:2] == b"\xff\xd8" else "other"}  # fmt: skip
