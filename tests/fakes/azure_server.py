"""A fake of Azure AI Speech fast transcription and Azure AI Vision Image Analysis 4.0.

Documented at https://learn.microsoft.com/rest/api/speechtotext/transcriptions/transcribe,
https://learn.microsoft.com/azure/ai-services/speech-service/fast-transcription-create,
https://learn.microsoft.com/rest/api/computervision/image-analysis/analyze-image
(api-version 2024-02-01) and
https://learn.microsoft.com/azure/ai-services/computer-vision/how-to/call-analyze-image-40:

- the key in ``Ocp-Apim-Subscription-Key``; a wrong one gets the API gateway's 401
  ``{"error": {"code": "401", "message": "Access denied due to invalid subscription
  key or wrong API endpoint..."}}``; other errors ``{"error": {"code", "message",
  "innererror"}}``;
- ``POST /speechtotext/transcriptions:transcribe?api-version=...``: multipart with an
  ``audio`` file and a ``definition`` JSON (400 ``InvalidArgument`` without either or
  without ``locales``); answers ``durationMilliseconds``, ``combinedPhrases``,
  ``phrases`` (``offsetMilliseconds``, ``durationMilliseconds``, ``text``, ``words``,
  ``locale``, ``confidence``, ``speaker`` when diarization is enabled);
- ``POST /computervision/imageanalysis:analyze?api-version=2024-02-01&features=...``
  with the image as ``application/octet-stream``: ``modelVersion``, ``metadata``,
  ``captionResult``, ``tagsResult.values``, ``readResult.blocks[].lines[]``,
  ``peopleResult.values`` for the features asked; 400 ``InvalidImageFormat`` for a
  body that is not an image.
"""

from __future__ import annotations

import json
from typing import Any

from mediaflow.errors import ProviderError
from tests.fakes.cloud import FakeVendor, Reply, Request, image_facts, transcribe_audio

DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)


class FakeAzure(FakeVendor):
    """Azure AI Speech (fast transcription) and Azure AI Vision (Image Analysis 4.0)."""

    default_key = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

    def authorized(self, request: Request) -> bool:
        """``Ocp-Apim-Subscription-Key``."""
        return request.headers.get("ocp-apim-subscription-key", "") == self.api_key

    def unauthorized(self, request: Request) -> Reply:
        """The gateway's 401 (echoing the key it got, to catch leaks)."""
        given = request.headers.get("ocp-apim-subscription-key", "")
        return Reply(401, {"error": {"code": "401", "message": f"{DENIED} (key {given})"}})

    def error_body(self, status: int, message: str) -> Any:
        """``{"error": {"code", "message"}}``."""
        code = {400: "InvalidRequest", 429: "429", 500: "InternalServerError",
                503: "ServiceUnavailable"}.get(status, str(status))  # fmt: skip
        return {"error": {"code": code, "message": message}}

    def handle(self, request: Request) -> Reply:
        """Route to transcribe or analyze."""
        if not request.query.get("api-version"):
            return Reply(404, self.error_body(404, "Resource not found"))
        if (request.method, request.path) == ("POST", "/speechtotext/transcriptions:transcribe"):
            return self._transcribe(request)
        if (request.method, request.path) == ("POST", "/computervision/imageanalysis:analyze"):
            return self._analyze(request)
        return Reply(404, self.error_body(404, "Resource not found"))

    def _invalid(self, message: str, inner: str) -> Reply:
        return Reply(400, {"error": {"code": "InvalidArgument", "message": message,
                                     "innererror": {"code": inner, "message": message}}})  # fmt: skip

    def _transcribe(self, request: Request) -> Reply:
        form = request.form()
        if "audio" not in form or "definition" not in form:
            return self._invalid(
                "The request must contain 'audio' and 'definition'.", "MissingPart"
            )
        try:
            definition = json.loads(form["definition"][1])
        except ValueError:
            return self._invalid("The definition is not valid JSON.", "InvalidDefinition")
        if not definition.get("locales"):
            return self._invalid("At least one locale is required.", "InvalidLocale")
        try:
            output = transcribe_audio(form["audio"][1])
        except ProviderError:
            return self._invalid("Audio format is not supported.", "InvalidAudioFormat")
        diarize = bool((definition.get("diarization") or {}).get("enabled"))
        locale = definition["locales"][0]
        phrases = []
        for segment in output.segments:
            phrase: dict[str, Any] = {
                "channel": 0, "offsetMilliseconds": int(segment.start * 1000),
                "durationMilliseconds": int((segment.end - segment.start) * 1000),
                "text": segment.text, "locale": locale,
                "confidence": segment.confidence or 0.9,
                "words": [{"text": w.word, "offsetMilliseconds": int(w.start * 1000),
                           "durationMilliseconds": int((w.end - w.start) * 1000)}
                          for w in segment.words],
            }  # fmt: skip
            if diarize:
                phrase["speaker"] = 1
            phrases.append(phrase)
        duration = output.details.get("duration_s") or 0.0
        return Reply(
            200,
            {
                "durationMilliseconds": int(duration * 1000),
                "combinedPhrases": [{"text": output.text}],
                "phrases": phrases,
            },
        )

    def _analyze(self, request: Request) -> Reply:
        features = set(",".join(request.query.get("features") or []).split(","))
        if not features - {""}:
            return self._invalid("The 'features' parameter is required.", "InvalidParameter")
        try:
            facts = image_facts(request.body)
        except Exception:
            return self._invalid("Input data is not a valid image.", "InvalidImageFormat")
        width, height = facts["width"], facts["height"]
        body: dict[str, Any] = {
            "modelVersion": "2023-10-01",
            "metadata": {"width": width, "height": height},
        }
        if "caption" in features:
            body["captionResult"] = {"text": f"a {facts['colour']} picture", "confidence": 0.81}
        if "tags" in features:
            body["tagsResult"] = {
                "values": [
                    {"name": facts["colour"], "confidence": 0.95},
                    {"name": "design", "confidence": 0.62},
                ]
            }
        if "read" in features:
            text = f"{width}x{height}"
            polygon = [{"x": 1, "y": 1}, {"x": 60, "y": 1}, {"x": 60, "y": 20}, {"x": 1, "y": 20}]
            body["readResult"] = {"blocks": [{"lines": [{
                "text": text, "boundingPolygon": polygon,
                "words": [{"text": text, "boundingPolygon": polygon, "confidence": 0.99}],
            }]}]}  # fmt: skip
        if "people" in features:
            people = [{"boundingBox": {"x": 5, "y": 5, "w": 20, "h": 40}, "confidence": 0.91}]
            body["peopleResult"] = {"values": people if facts["colour"] == "red" else []}
        return Reply(200, body, headers={"apim-request-id": "fake-apim-request"})
