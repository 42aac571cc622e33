"""Speech to text with Amazon Transcribe (batch job through the S3 input it requires).

API (https://docs.aws.amazon.com/transcribe/latest/APIReference/API_StartTranscriptionJob.html,
https://docs.aws.amazon.com/transcribe/latest/APIReference/API_GetTranscriptionJob.html,
https://docs.aws.amazon.com/transcribe/latest/dg/how-input.html#how-it-works-output):
the WAV is put in ``MEDIAFLOW_AWS_TRANSCRIBE_BUCKET`` (S3 ``PutObject``), a job is
started on ``s3://bucket/key`` with speaker labels and language identification (or
``MEDIAFLOW_AWS_TRANSCRIBE_LANGUAGE``) writing its output to the same bucket, the job
is polled (``GetTranscriptionJob``) until ``COMPLETED`` or ``FAILED``
(``FailureReason``), and the transcript JSON is read back from S3: ``results.items``
are ``pronunciation`` items (``start_time``/``end_time`` as strings,
``alternatives[0].content``/``confidence``, ``speaker_label``) and ``punctuation``
items that attach to the word before; ``results.language_code``. The uploaded audio
is deleted afterwards.

boto3 (official, maintained, and the only sane way to sign SigV4 requests) is in the
``mediaflow[cloud]`` extra. Transcribe bills per second with a 15 s minimum.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any, ClassVar

from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.base import TranscriptOutput, Word
from mediaflow.providers.cloud.aws import aws_call, aws_client, aws_credentials
from mediaflow.providers.cloud.base import CloudTranscriber
from mediaflow.providers.cloud.http import poll
from mediaflow.providers.cloud.split import wav_duration
from mediaflow.providers.cloud.transcript import mean_confidence, segments_from_words

MIN_BILLED_S = 15.0


class AWSTranscribeProvider(CloudTranscriber):
    """Amazon Transcribe batch jobs with speaker labels."""

    name: ClassVar[str] = TranscriptionProvider.AWS_TRANSCRIBE.value
    vendor: ClassVar[str] = "Amazon Transcribe"
    max_seconds: ClassVar[float | None] = 4 * 3600 - 60  # documented 4 h limit
    max_bytes: ClassVar[int | None] = 2 * 1024**3

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """AWS credentials and region, and the bucket Transcribe reads from."""
        found, missing = aws_credentials(self.settings)
        if missing:
            return found, missing
        if not self.settings.aws_transcribe_bucket:
            return {}, "no S3 bucket for Transcribe input: set MEDIAFLOW_AWS_TRANSCRIBE_BUCKET"
        return found, None

    def _recognize(self, audio: Path, credentials: dict[str, str]) -> TranscriptOutput:
        settings = self.settings
        bucket = settings.aws_transcribe_bucket
        s3 = aws_client(settings, "s3", credentials)
        transcribe = aws_client(settings, "transcribe", credentials)
        job = f"mediaflow-{uuid.uuid4().hex}"
        key, output_key = f"mediaflow/{job}.wav", f"mediaflow/{job}.json"
        vendor = self.vendor
        aws_call(
            vendor,
            credentials,
            lambda: s3.put_object(
                Bucket=bucket, Key=key, Body=audio.read_bytes(), ContentType="audio/wav"
            ),
        )
        try:
            language: dict[str, Any] = (
                {"LanguageCode": settings.aws_transcribe_language}
                if settings.aws_transcribe_language
                else {"IdentifyLanguage": True}
            )
            aws_call(
                vendor,
                credentials,
                lambda: transcribe.start_transcription_job(
                    TranscriptionJobName=job,
                    Media={"MediaFileUri": f"s3://{bucket}/{key}"},
                    MediaFormat="wav",
                    OutputBucketName=bucket,
                    OutputKey=output_key,
                    Settings={"ShowSpeakerLabels": True, "MaxSpeakerLabels": 4},
                    **language,
                ),
            )

            def get_job() -> Any:
                return aws_call(
                    vendor,
                    credentials,
                    lambda: transcribe.get_transcription_job(TranscriptionJobName=job),
                )

            answer = poll(
                get_job,
                lambda a: (
                    a["TranscriptionJob"]["TranscriptionJobStatus"] in ("COMPLETED", "FAILED")
                ),
                interval_s=settings.cloud_poll_interval_s,
                timeout_s=settings.cloud_poll_timeout_s,
                what=f"Amazon Transcribe job {job}",
            )
            status = answer["TranscriptionJob"]
            if status["TranscriptionJobStatus"] == "FAILED":
                raise ProviderError(
                    f"Amazon Transcribe job failed: {status.get('FailureReason', 'no reason')}"
                )
            obj = aws_call(
                vendor, credentials, lambda: s3.get_object(Bucket=bucket, Key=output_key)
            )
            raw = obj["Body"].read()
        finally:
            # the user's audio does not stay in the bucket; a failed cleanup costs nothing else
            with contextlib.suppress(Exception):
                s3.delete_object(Bucket=bucket, Key=key)
        try:
            body = json.loads(raw)
            output = parse_transcript(body, model="amazon-transcribe")
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"Amazon Transcribe: malformed transcript ({type(exc).__name__}: {exc})"
            ) from exc
        output.details["billing"] = {"audio_seconds": max(MIN_BILLED_S, wav_duration(audio))}
        output.details["job"] = job
        return output


def parse_transcript(body: dict[str, Any], *, model: str) -> TranscriptOutput:
    """Transcribe's output JSON as a ``TranscriptOutput``."""
    results = body["results"]
    words: list[Word] = []
    speakers: list[str | None] = []
    for item in results["items"]:
        best = item["alternatives"][0]
        if item.get("type") == "punctuation":
            if words:  # punctuation belongs to the word before it
                words[-1].word += str(best["content"])
            continue
        confidence = best.get("confidence")
        words.append(
            Word(
                start=round(float(item["start_time"]), 3),
                end=round(float(item["end_time"]), 3),
                word=str(best["content"]),
                probability=round(float(confidence), 4) if confidence not in (None, "") else None,
            )
        )
        speakers.append(item.get("speaker_label"))
    transcripts = results.get("transcripts") or []
    text = " ".join(str(t.get("transcript") or "") for t in transcripts).strip()
    language = results.get("language_code")
    return TranscriptOutput(
        text=text or " ".join(w.word for w in words),
        segments=segments_from_words(words, speakers),
        language=language.split("-")[0].lower() if isinstance(language, str) else None,
        confidence=mean_confidence([w.probability for w in words]),
        model=model,
        details={"engine": "amazon-transcribe"},
    )
