"""A fake of AssemblyAI's async transcription API (upload, submit, poll).

Documented at https://www.assemblyai.com/docs/api-reference/files/upload,
https://www.assemblyai.com/docs/api-reference/transcripts/submit,
https://www.assemblyai.com/docs/api-reference/transcripts/get and
https://www.assemblyai.com/docs/pre-recorded-audio/transcript-status:

- ``Authorization: <key>`` (no scheme); a wrong one gets 401 ``{"error":
  "Authentication error, API token missing/invalid"}``;
- ``POST /v2/upload`` (raw bytes) -> ``{"upload_url": "https://cdn.assemblyai.com/upload/<id>"}``;
- ``POST /v2/transcript`` ``{"audio_url", "speaker_labels", "language_detection"...}``
  -> the transcript object with ``status: "queued"`` (400 ``{"error": ...}`` without
  ``audio_url``);
- ``GET /v2/transcript/{id}``: ``processing`` on the first poll, then ``completed``
  with ``text``, ``words`` (ms times, ``confidence``, ``speaker``), ``utterances``,
  ``language_code``, ``confidence``, ``audio_duration`` (s) — or ``status: "error"``
  with ``error`` when the uploaded bytes are not audio.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from mediaflow.errors import ProviderError
from tests.fakes.cloud import FakeVendor, Reply, Request, transcribe_audio, words_of


class FakeAssemblyAI(FakeVendor):
    """AssemblyAI ``/v2``."""

    default_key = "aai0f1e2d3c4b5a69788fake"

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__(api_key)
        self.uploads: dict[str, bytes] = {}
        self.transcripts: dict[str, dict[str, Any]] = {}
        self._polls: dict[str, int] = {}
        self._state = threading.Lock()

    def authorized(self, request: Request) -> bool:
        """The bare key in ``Authorization``."""
        return request.headers.get("authorization", "") == self.api_key

    def unauthorized(self, request: Request) -> Reply:
        """AssemblyAI's 401 (echoing the key, to catch a provider that does not scrub)."""
        given = request.headers.get("authorization", "")
        return Reply(401, {"error": f"Authentication error, API token missing/invalid: {given}"})

    def error_body(self, status: int, message: str) -> Any:
        """``{"error": "..."}``."""
        return {"error": message}

    def handle(self, request: Request) -> Reply:
        """Upload, submit, poll."""
        if (request.method, request.path) == ("POST", "/v2/upload"):
            upload_id = uuid.uuid4().hex
            with self._state:
                self.uploads[upload_id] = request.body
            return Reply(200, {"upload_url": f"https://cdn.assemblyai.com/upload/{upload_id}"})
        if (request.method, request.path) == ("POST", "/v2/transcript"):
            return self._submit(request)
        if request.method == "GET" and request.path.startswith("/v2/transcript/"):
            return self._get(request.path.rsplit("/", 1)[-1])
        return Reply(404, {"error": "Not found"})

    def _submit(self, request: Request) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("audio_url"), str):
            return Reply(400, {"error": "audio_url is required"})
        transcript_id = str(uuid.uuid4())
        transcript = {
            "id": transcript_id, "status": "queued", "audio_url": body["audio_url"],
            "speaker_labels": bool(body.get("speaker_labels")),
            "language_detection": bool(body.get("language_detection")),
            "speech_model": body.get("speech_model"), "text": None, "words": None,
            "utterances": None, "error": None,
        }  # fmt: skip
        with self._state:
            self.transcripts[transcript_id] = transcript
        return Reply(200, transcript)

    def _get(self, transcript_id: str) -> Reply:
        with self._state:
            transcript = self.transcripts.get(transcript_id)
            polls = self._polls[transcript_id] = self._polls.get(transcript_id, 0) + 1
        if transcript is None:
            return Reply(404, {"error": "Transcript ID not found"})
        if polls == 1:
            return Reply(200, {**transcript, "status": "processing"})
        data = self.uploads.get(transcript["audio_url"].rsplit("/", 1)[-1])
        try:
            if data is None:
                raise ProviderError("not uploaded")
            output = transcribe_audio(data)
        except ProviderError:
            failed = {
                **transcript,
                "status": "error",
                "error": "Transcoding failed. File does not appear to contain audio.",
            }
            return Reply(200, failed)
        speaker = "A" if transcript["speaker_labels"] else None
        words = [
            {"text": w, "start": int(s * 1000), "end": int(e * 1000), "confidence": p,
             "speaker": speaker}
            for s, e, w, p in words_of(output)
        ]  # fmt: skip
        utterances = [
            {"speaker": speaker, "text": s.text, "start": int(s.start * 1000),
             "end": int(s.end * 1000), "confidence": s.confidence or 0.9,
             "words": [w for w in words if s.start * 1000 <= w["start"] < s.end * 1000 + 10]}
            for s in output.segments
        ] if speaker else None  # fmt: skip
        completed = {
            **transcript, "status": "completed", "text": output.text, "words": words,
            "utterances": utterances, "confidence": output.confidence or 0.9,
            "language_code": output.language or "en",
            "audio_duration": output.details.get("duration_s"),
        }  # fmt: skip
        return Reply(200, completed)
