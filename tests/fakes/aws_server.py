"""A fake of the three AWS APIs mediaflow uses: S3 objects, Amazon Transcribe batch jobs
and Amazon Rekognition image detection, on one endpoint (``AWS_ENDPOINT_URL``).

moto 5.2 was checked first: its Transcribe mock never writes the transcript file a
job points to, and its Rekognition mock has no DetectFaces or DetectModerationLabels
and answers the same canned labels whatever the image; neither can be made to fail
with a throttle or a 5xx. So this fake speaks the documented protocols itself:

- every request is SigV4-signed; the ``Credential=<access key id>/<date>/<region>/
  <service>/aws4_request`` scope must name the fake's access key id (the signature
  itself is not recomputed). A wrong one gets what AWS sends: S3 403
  ``InvalidAccessKeyId`` (XML), JSON services 400 ``UnrecognizedClientException``
  ("The security token included in the request is invalid.");
- S3 REST, path style (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html,
  ``GetObject``, ``DeleteObject``): ``PUT/GET/DELETE /{bucket}/{key}``; a missing key is
  404 ``NoSuchKey``; a missing bucket 404 ``NoSuchBucket``;
- JSON 1.1 (``X-Amz-Target: Transcribe.StartTranscriptionJob`` ...; errors
  ``{"__type", "message"}`` with ``x-amzn-ErrorType``), for Transcribe
  (https://docs.aws.amazon.com/transcribe/latest/APIReference/API_StartTranscriptionJob.html,
  ``GetTranscriptionJob``; output format:
  https://docs.aws.amazon.com/transcribe/latest/dg/how-input.html#how-it-works-output):
  a job on an S3 object that does not exist is 400 ``BadRequestException``; the
  first poll says ``IN_PROGRESS``, the next runs the real transcription, writes the
  transcript JSON (``results.transcripts``, ``results.items`` with pronunciation and
  punctuation items, ``speaker_label``, ``language_code``) to the output bucket and
  says ``COMPLETED`` (``FAILED`` with ``FailureReason`` for audio it cannot decode);
- and for Rekognition (``RekognitionService.DetectLabels``, ``DetectText``,
  ``DetectFaces``, ``DetectModerationLabels``;
  https://docs.aws.amazon.com/rekognition/latest/APIReference/API_DetectLabels.html):
  ``Image.Bytes`` (base64 in JSON), 400 ``InvalidImageFormatException`` for bytes
  that are not an image, ``ImageTooLargeException`` over 5 MB.

A scripted 429 is rendered as AWS throttles: HTTP 400 ``ThrottlingException`` "Rate
exceeded" (keeping any ``Retry-After`` header the test adds); a scripted 5xx as
``InternalFailure``/``ServiceUnavailableException``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from typing import Any

from mediaflow.errors import ProviderError
from tests.fakes.cloud import FakeVendor, Reply, Request, image_facts, transcribe_audio

CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
JSON11 = "application/x-amz-json-1.1"
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def _s3_error(status: int, code: str, message: str) -> Reply:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>FAKE</RequestId></Error>")  # fmt: skip
    return Reply(status, body, content_type="application/xml")


def _json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, {"__type": code, "message": message},
                 headers={"x-amzn-ErrorType": code, **(headers or {})}, content_type=JSON11)  # fmt: skip


class FakeAWS(FakeVendor):
    """S3 + Transcribe + Rekognition on one endpoint."""

    default_key = "AKIAFAKE0123456789AB"  # the access key id
    secret_key = "fake/secret/key/0123456789abcdefghijklmn"
    region = "us-east-1"

    def __init__(
        self, api_key: str | None = None, buckets: tuple[str, ...] = ("media-in",)
    ) -> None:
        super().__init__(api_key)
        self.objects: dict[tuple[str, str], bytes] = {}
        self.buckets = set(buckets)
        self.jobs: dict[str, dict[str, Any]] = {}
        self._polls: dict[str, int] = {}
        self._state = threading.Lock()

    def _scope(self, request: Request) -> tuple[str, str] | None:
        match = CREDENTIAL.search(request.headers.get("authorization", ""))
        return (match.group(1), match.group(3)) if match else None

    def authorized(self, request: Request) -> bool:
        """A SigV4 scope naming the fake's access key id."""
        scope = self._scope(request)
        return scope is not None and scope[0] == self.api_key

    def unauthorized(self, request: Request) -> Reply:
        """S3: 403 InvalidAccessKeyId; JSON services: 400 UnrecognizedClientException."""
        if "x-amz-target" in request.headers:
            return _json_error(400, "UnrecognizedClientException",
                               "The security token included in the request is invalid.")  # fmt: skip
        return _s3_error(403, "InvalidAccessKeyId",
                         "The AWS Access Key Id you provided does not exist in our records.")  # fmt: skip

    def error_body(self, status: int, message: str) -> Any:
        """The JSON 1.1 error shape."""
        return {"__type": "BadRequestException", "message": message}

    def render(self, reply: Reply, request: Request) -> Reply:
        """Scripted failures in the protocol of the request they answer."""
        if reply.body is not None or reply.status < 400:
            return reply
        is_json = "x-amz-target" in request.headers
        if reply.status == 429:
            if is_json:
                answer = _json_error(400, "ThrottlingException", "Rate exceeded", reply.headers)
            else:
                answer = _s3_error(503, "SlowDown", "Please reduce your request rate.")
                answer.headers.update(reply.headers)
        elif reply.status >= 500:
            code = "ServiceUnavailableException" if reply.status == 503 else "InternalFailure"
            answer = (_json_error(reply.status, code, "The service is unavailable.")
                      if is_json else _s3_error(reply.status, "InternalError",
                                                "We encountered an internal error."))  # fmt: skip
        else:
            answer = (_json_error(reply.status, "BadRequestException", "Scripted bad request.")
                      if is_json else _s3_error(reply.status, "InvalidRequest",
                                                "Scripted bad request."))  # fmt: skip
        answer.hold, answer.delay_s = reply.hold, reply.delay_s
        return answer

    # -- routing ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """S3 by path, JSON services by X-Amz-Target."""
        target = request.headers.get("x-amz-target")
        if target is None:
            return self._s3(request)
        service, _, operation = target.partition(".")
        body = request.json()
        if not isinstance(body, dict):
            return _json_error(400, "SerializationException", "Malformed request body")
        if service == "Transcribe":
            return self._transcribe(operation, body)
        if service == "RekognitionService":
            return self._rekognition(operation, body)
        return _json_error(400, "UnknownOperationException", f"Unknown operation {target}")

    def _s3(self, request: Request) -> Reply:
        bucket, _, key = request.path.lstrip("/").partition("/")
        if bucket not in self.buckets:
            return _s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
        with self._state:
            if request.method == "PUT":
                self.objects[(bucket, key)] = request.body
                return Reply(
                    200, b"", headers={"ETag": '"fake-etag"'}, content_type="application/xml"
                )
            if request.method == "DELETE":
                self.objects.pop((bucket, key), None)
                return Reply(204, b"", content_type="application/xml")
            data = self.objects.get((bucket, key))
        if data is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return Reply(200, data, content_type="application/octet-stream")

    # -- Transcribe ---------------------------------------------------------------------

    def _transcribe(self, operation: str, body: dict[str, Any]) -> Reply:
        if operation == "StartTranscriptionJob":
            return self._start(body)
        if operation == "GetTranscriptionJob":
            return self._get_job(str(body.get("TranscriptionJobName")))
        return _json_error(400, "UnknownOperationException", f"Unknown operation {operation}")

    def _start(self, body: dict[str, Any]) -> Reply:
        name = body.get("TranscriptionJobName")
        uri = (body.get("Media") or {}).get("MediaFileUri", "")
        match = re.match(r"^s3://([^/]+)/(.+)$", uri)
        if not name or match is None:
            return _json_error(
                400,
                "BadRequestException",
                "1 validation error detected: Value at 'media.mediaFileUri' failed to satisfy constraint",
            )
        if (match.group(1), match.group(2)) not in self.objects:
            return _json_error(
                400,
                "BadRequestException",
                "The URI that you provided doesn't point to an S3 object. Make sure that the object exists and try your request again.",
            )
        if name in self.jobs:
            return _json_error(
                400,
                "ConflictException",
                "The requested job name already exists. Use a different job name.",
            )
        if not body.get("LanguageCode") and not body.get("IdentifyLanguage"):
            return _json_error(
                400,
                "BadRequestException",
                "You must specify LanguageCode, IdentifyLanguage or IdentifyMultipleLanguages.",
            )
        job = {
            "TranscriptionJobName": name, "TranscriptionJobStatus": "IN_PROGRESS",
            "MediaFormat": body.get("MediaFormat"), "Media": body["Media"],
            "CreationTime": time.time(), "StartTime": time.time(),
            "Settings": body.get("Settings") or {},
            "_input": (match.group(1), match.group(2)),
            "_output": (body.get("OutputBucketName"), body.get("OutputKey") or f"{name}.json"),
        }  # fmt: skip
        with self._state:
            self.jobs[name] = job
        return Reply(200, {"TranscriptionJob": _public(job)}, content_type=JSON11)

    def _get_job(self, name: str) -> Reply:
        with self._state:
            job = self.jobs.get(name)
            polls = self._polls[name] = self._polls.get(name, 0) + 1
        if job is None:
            return _json_error(
                400,
                "BadRequestException",
                "The requested job couldn't be found. Check the job name and try your request again.",
            )
        if polls >= 2 and job["TranscriptionJobStatus"] == "IN_PROGRESS":
            self._finish(job)
        return Reply(200, {"TranscriptionJob": _public(job)}, content_type=JSON11)

    def _finish(self, job: dict[str, Any]) -> None:
        audio = self.objects.get(job["_input"], b"")
        try:
            output = transcribe_audio(audio)
        except ProviderError:
            job.update(
                TranscriptionJobStatus="FAILED",
                FailureReason="The media format that you specified doesn't match the detected media format.",
            )
            return
        items: list[dict[str, Any]] = []
        show_speakers = bool(job["Settings"].get("ShowSpeakerLabels"))
        for segment in output.segments:
            for word in segment.words:
                content = word.word.rstrip(".,?!")
                item = {"type": "pronunciation", "start_time": f"{word.start:.3f}",
                        "end_time": f"{word.end:.3f}",
                        "alternatives": [{"confidence": f"{word.probability or 0.9:.4f}",
                                          "content": content}]}  # fmt: skip
                if show_speakers:
                    item["speaker_label"] = "spk_0"
                items.append(item)
                if word.word != content:
                    items.append({"type": "punctuation", "alternatives": [
                        {"confidence": "0.0", "content": word.word[len(content):]}]})  # fmt: skip
        transcript = {
            "jobName": job["TranscriptionJobName"], "accountId": "123456789012",
            "status": "COMPLETED",
            "results": {"language_code": "en-US", "transcripts": [{"transcript": output.text}],
                        "items": items},
        }  # fmt: skip
        bucket, key = job["_output"]
        self.objects[(bucket, key)] = json.dumps(transcript).encode()
        job.update(
            TranscriptionJobStatus="COMPLETED",
            CompletionTime=time.time(),
            LanguageCode="en-US",
            Transcript={
                "TranscriptFileUri": f"https://s3.{self.region}.amazonaws.com/{bucket}/{key}"
            },
        )

    # -- Rekognition --------------------------------------------------------------------

    def _rekognition(self, operation: str, body: dict[str, Any]) -> Reply:
        try:
            data = base64.b64decode((body.get("Image") or {}).get("Bytes", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if len(data) > MAX_IMAGE_BYTES:
            return _json_error(400, "ImageTooLargeException", "Image size is too large.")
        try:
            facts = image_facts(data)
        except Exception:
            return _json_error(
                400, "InvalidImageFormatException", "Request has invalid image format"
            )
        box = {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1}
        if operation == "DetectLabels":
            answer: dict[str, Any] = {"Labels": [
                {"Name": facts["colour"].title(), "Confidence": 97.5, "Instances": [],
                 "Parents": [], "Categories": [{"Name": "Colors and Visual Composition"}]},
                {"Name": "Pattern", "Confidence": 71.0, "Instances": [], "Parents": []},
            ], "LabelModelVersion": "3.0"}  # fmt: skip
        elif operation == "DetectText":
            text = f"{facts['width']}x{facts['height']}"
            answer = {"TextDetections": [
                {"DetectedText": text, "Type": "LINE", "Id": 0, "Confidence": 99.1,
                 "Geometry": {"BoundingBox": box}},
                {"DetectedText": text, "Type": "WORD", "Id": 1, "ParentId": 0,
                 "Confidence": 99.1, "Geometry": {"BoundingBox": box}},
            ], "TextModelVersion": "3.0"}  # fmt: skip
        elif operation == "DetectFaces":
            faces = [{"BoundingBox": box, "Confidence": 99.2}] if facts["colour"] == "red" else []
            answer = {"FaceDetails": faces}
        elif operation == "DetectModerationLabels":
            answer = {"ModerationLabels": [], "ModerationModelVersion": "7.0"}
        else:
            return _json_error(400, "UnknownOperationException", f"Unknown operation {operation}")
        return Reply(200, answer, content_type=JSON11)


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}
