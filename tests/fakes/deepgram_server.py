"""A fake of Deepgram's pre-recorded transcription API.

Documented at https://developers.deepgram.com/reference/speech-to-text-api/listen and
https://developers.deepgram.com/docs/getting-started-with-pre-recorded-audio (request)
and https://developers.deepgram.com/docs/errors (error bodies):

- ``POST /v1/listen`` only; options in the query (``model``, ``diarize``,
  ``utterances``, ``punctuate``, ``smart_format``, ``detect_language``);
- ``Authorization: Token <key>`` (401 ``{"err_code": "INVALID_AUTH", "err_msg":
  "Invalid credentials.", "request_id"}`` otherwise);
- the raw audio as body with an ``audio/*`` Content-Type (400
  ``{"err_code": "Bad Request", "err_msg": "Bad Request: failed to process audio:
  corrupt or unsupported data"}`` for audio it cannot decode, or an empty body);
- the answer: ``metadata`` (``request_id``, ``duration``, ``channels``, ``models``),
  ``results.channels[0]`` with ``detected_language``/``language_confidence`` and
  ``alternatives[0]`` (``transcript``, ``confidence``, ``words`` with ``word``,
  ``punctuated_word``, ``start``, ``end``, ``confidence``, ``speaker``), and
  ``results.utterances`` when asked for.
"""

from __future__ import annotations

import uuid
from typing import Any

from mediaflow.errors import ProviderError
from tests.fakes.cloud import FakeVendor, Reply, Request, transcribe_audio, words_of

KNOWN_MODELS = {"nova-3", "nova-2", "base", "enhanced"}


class FakeDeepgram(FakeVendor):
    """Deepgram ``/v1/listen``."""

    default_key = "dg-fake-4f1c2a9b7e6d5c3a"

    def authorized(self, request: Request) -> bool:
        """``Authorization: Token <key>``."""
        return request.headers.get("authorization", "") == f"Token {self.api_key}"

    def unauthorized(self, request: Request) -> Reply:
        """Deepgram's 401 (this fake also echoes the key it got, to catch leaks)."""
        given = request.headers.get("authorization", "")
        return Reply(401, self.error_body(401, f"Invalid credentials. ({given})"))

    def error_body(self, status: int, message: str) -> Any:
        """``{"err_code", "err_msg", "request_id"}``."""
        code = {401: "INVALID_AUTH", 429: "TOO_MANY_REQUESTS", 400: "Bad Request"}.get(
            status, "INTERNAL_SERVER_ERROR"
        )
        return {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}

    def handle(self, request: Request) -> Reply:
        """Transcribe the body."""
        if (request.method, request.path) != ("POST", "/v1/listen"):
            return Reply(404, self.error_body(404, f"Not found: {request.path}"))
        model = (request.query.get("model") or ["base"])[0]
        if model not in KNOWN_MODELS:
            return Reply(
                400, self.error_body(400, f"No such model/language/tier combination found: {model}")
            )
        if not request.headers.get("content-type", "").startswith("audio/") or not request.body:
            return Reply(
                400,
                self.error_body(
                    400, "Bad Request: failed to process audio: corrupt or unsupported data"
                ),
            )
        try:
            output = transcribe_audio(request.body)
        except ProviderError:
            return Reply(
                400,
                self.error_body(
                    400, "Bad Request: failed to process audio: corrupt or unsupported data"
                ),
            )
        diarize = request.query.get("diarize") == ["true"]
        words = [
            {"word": w.lower().strip(".,?!"), "punctuated_word": w, "start": s, "end": e,
             "confidence": p, **({"speaker": 0, "speaker_confidence": 0.9} if diarize else {})}
            for s, e, w, p in words_of(output)
        ]  # fmt: skip
        request_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "metadata": {
                "request_id": request_id, "created": "2026-11-26T10:00:00.000Z",
                "duration": output.details.get("duration_s"), "channels": 1,
                "models": [str(uuid.uuid4())],
            },
            "results": {
                "channels": [{
                    "detected_language": output.language or "en", "language_confidence": 0.98,
                    "alternatives": [{
                        "transcript": output.text, "confidence": output.confidence or 0.9,
                        "words": words,
                    }],
                }],
            },
        }  # fmt: skip
        if request.query.get("utterances") == ["true"]:
            body["results"]["utterances"] = [
                {"start": s.start, "end": s.end, "confidence": s.confidence or 0.9,
                 "channel": 0, "transcript": s.text, "speaker": 0, "id": str(uuid.uuid4()),
                 "words": [w for w in words if s.start <= w["start"] < s.end + 0.01]}
                for s in output.segments
            ]  # fmt: skip
        return Reply(200, body, headers={"dg-request-id": request_id})
