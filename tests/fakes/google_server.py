"""A fake of Google Cloud Speech-to-Text v2 (``recognize``) and Cloud Vision (``images:annotate``).

Documented at
https://cloud.google.com/speech-to-text/v2/docs/reference/rest/v2/projects.locations.recognizers/recognize,
https://cloud.google.com/vision/docs/reference/rest/v1/images/annotate,
https://cloud.google.com/docs/authentication/api-keys-use (``x-goog-api-key``) and
https://cloud.google.com/apis/design/errors (``{"error": {"code", "message",
"status", "details"}}``):

- the key in ``x-goog-api-key`` (or ``?key=``); a wrong key gets what Google sends:
  **400** ``INVALID_ARGUMENT`` "API key not valid. Please pass a valid API key." with an
  ``ErrorInfo`` reason ``API_KEY_INVALID`` (not a 401);
- ``POST /v2/projects/{p}/locations/{l}/recognizers/{r}:recognize`` with ``config``
  and base64 ``content``: audio over 60 s is refused (400 "Audio can be of a maximum
  of 60 seconds."), as the synchronous method documents; words carry
  ``startOffset``/``endOffset`` Duration strings; ``metadata.totalBilledDuration``;
- ``POST /v1/images:annotate`` with ``requests[].image.content`` and ``features``:
  ``labelAnnotations``, ``textAnnotations`` (the first is the full text),
  ``faceAnnotations``, ``safeSearchAnnotation`` per feature asked; an image that
  cannot be decoded gets a per-image ``error`` inside a 200, as the API does.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import wave
from typing import Any

from mediaflow.errors import ProviderError
from tests.fakes.cloud import FakeVendor, Reply, Request, image_facts, transcribe_audio

RECOGNIZE = re.compile(r"^/v2/projects/[^/]+/locations/[^/]+/recognizers/[^/:]+:recognize$")
MAX_SYNC_SECONDS = 60.0


def _status(code: int) -> str:
    return {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
            404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
            503: "UNAVAILABLE"}.get(code, "UNKNOWN")  # fmt: skip


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


class FakeGoogle(FakeVendor):
    """speech.googleapis.com v2 recognize and vision.googleapis.com v1 annotate."""

    default_key = "AIzaSyFAKE-0123456789abcdefghij"

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__(api_key)
        self.audio_seconds: list[float] = []  # length of each recognize request's audio

    def _given(self, request: Request) -> str:
        return request.headers.get("x-goog-api-key") or (request.query.get("key") or [""])[0]

    def authorized(self, request: Request) -> bool:
        """``x-goog-api-key`` (or ``?key=``)."""
        return self._given(request) == self.api_key

    def unauthorized(self, request: Request) -> Reply:
        """Google's answer to a bad API key: a 400 with reason API_KEY_INVALID."""
        body = self.error_body(400, "API key not valid. Please pass a valid API key.")
        body["error"]["details"] = [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com", "metadata": {"service": "speech.googleapis.com"},
        }]  # fmt: skip
        return Reply(400, body)

    def error_body(self, status: int, message: str) -> Any:
        """``{"error": {"code", "message", "status"}}``."""
        return {"error": {"code": status, "message": message, "status": _status(status)}}

    def handle(self, request: Request) -> Reply:
        """Route to recognize or annotate."""
        if request.method == "POST" and RECOGNIZE.match(request.path):
            return self._recognize(request)
        if (request.method, request.path) == ("POST", "/v1/images:annotate"):
            return self._annotate(request)
        return Reply(404, self.error_body(404, f"Method not found: {request.path}"))

    def _recognize(self, request: Request) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or "config" not in body or "content" not in body:
            return Reply(
                400,
                self.error_body(
                    400,
                    "Invalid recognition 'config': request is missing required 'config' or audio source.",
                ),
            )
        try:
            audio = base64.b64decode(body["content"], validate=True)
            with wave.open(io.BytesIO(audio)) as wav:
                seconds = wav.getnframes() / wav.getframerate()
        except (binascii.Error, wave.Error, EOFError, ValueError):
            return Reply(
                400,
                self.error_body(400, "Audio data does not appear to be in a supported encoding."),
            )
        self.audio_seconds.append(seconds)
        if seconds > MAX_SYNC_SECONDS:
            return Reply(400, self.error_body(400, "Audio can be of a maximum of 60 seconds."))
        try:
            output = transcribe_audio(audio)
        except ProviderError:
            return Reply(
                400,
                self.error_body(400, "Audio data does not appear to be in a supported encoding."),
            )
        features = body["config"].get("features") or {}
        language = (body["config"].get("languageCodes") or ["en-US"])[0].lower()
        results = []
        for segment in output.segments:
            alternative: dict[str, Any] = {
                "transcript": segment.text,
                "confidence": segment.confidence or 0.9,
            }
            if features.get("enableWordTimeOffsets"):
                alternative["words"] = [
                    {"startOffset": _duration(w.start), "endOffset": _duration(w.end),
                     "word": w.word,
                     **({"confidence": w.probability or 0.9}
                        if features.get("enableWordConfidence") else {})}
                    for w in segment.words
                ]  # fmt: skip
            results.append(
                {
                    "alternatives": [alternative],
                    "resultEndOffset": _duration(segment.end),
                    "languageCode": language,
                }
            )
        billed = max(1, int(seconds + 0.999))  # billed in whole seconds
        return Reply(200, {"results": results, "metadata": {
            "requestId": "fake-request", "totalBilledDuration": f"{billed}s"}})  # fmt: skip

    def _annotate(self, request: Request) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            return Reply(
                400, self.error_body(400, 'Invalid JSON payload received. Unknown name "requests".')
            )
        if len(body["requests"]) > 16:
            return Reply(400, self.error_body(400, "Too many images per request (max 16)."))
        return Reply(200, {"responses": [self._one(r) for r in body["requests"]]})

    def _one(self, item: dict[str, Any]) -> dict[str, Any]:
        try:
            data = base64.b64decode(item["image"]["content"], validate=True)
            facts = image_facts(data)
        except Exception:
            return {"error": {"code": 3, "message": "Bad image data."}}
        wanted = {f.get("type") for f in item.get("features") or []}
        answer: dict[str, Any] = {}
        if "LABEL_DETECTION" in wanted:
            answer["labelAnnotations"] = [
                {"mid": "/m/03vt0", "description": facts["colour"].title(), "score": 0.93,
                 "topicality": 0.93},
                {"mid": "/m/07s6nbt", "description": "Pattern", "score": 0.71, "topicality": 0.71},
            ]  # fmt: skip
        if "TEXT_DETECTION" in wanted:
            text = f"{facts['width']}x{facts['height']}"
            box = {"vertices": [{"x": 1, "y": 1}, {"x": 60, "y": 1}, {"x": 60, "y": 20},
                                {"x": 1, "y": 20}]}  # fmt: skip
            answer["textAnnotations"] = [
                {"locale": "en", "description": text, "boundingPoly": box},
                {"description": text, "boundingPoly": box},
            ]
            answer["fullTextAnnotation"] = {"text": text + "\n"}
        if "FACE_DETECTION" in wanted:
            answer["faceAnnotations"] = [{
                "boundingPoly": {"vertices": [{"x": 10, "y": 10}, {"x": 40, "y": 10},
                                              {"x": 40, "y": 40}, {"x": 10, "y": 40}]},
                "detectionConfidence": 0.87, "joyLikelihood": "VERY_UNLIKELY",
            }] if facts["colour"] == "red" else []  # fmt: skip
        if "SAFE_SEARCH_DETECTION" in wanted:
            answer["safeSearchAnnotation"] = {
                "adult": "VERY_UNLIKELY",
                "spoof": "UNLIKELY",
                "medical": "VERY_UNLIKELY",
                "violence": "VERY_UNLIKELY",
                "racy": "UNLIKELY",
            }
        return answer
