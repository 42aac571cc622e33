"""Audio over a vendor's limit is split by time with overlap and stitched by timestamps.

The stitching rules are checked on hand-made chunk transcripts; then two real
providers against their fakes, with their limits lowered so that a short spoken
paragraph must be split: Google's synchronous recognize (its fake refuses audio over
the limit, as the real API refuses over 60 s) and OpenAI's audio API (25 MB).
"""

from __future__ import annotations

import itertools
import wave
from io import BytesIO
from pathlib import Path

import jiwer
import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.media.audio import extract_audio
from mediaflow.providers.base import MediaInput, Segment, TranscriptOutput, Word
from mediaflow.providers.cloud.split import AudioChunk, plan_chunks, split_wav, stitch, wav_duration
from mediaflow.providers.transcription.google_speech import GoogleSpeechProvider
from mediaflow.providers.transcription.openai import OpenAITranscriptionProvider
from tests import media_factory as mf
from tests.fakes import google_server
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import FakeOpenAI

PARAGRAPH = (
    "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins "
    "with a single step. Every cloud has a silver lining, and practice makes perfect."
)


def _normalise(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).strip()


@pytest.fixture(scope="module")
def paragraph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 12 s of speech as the pipeline's 16 kHz mono WAV."""
    work = tmp_path_factory.mktemp("paragraph")
    audio = extract_audio(mf.speak_wav(PARAGRAPH, work / "spoken.wav"), work / "audio.wav")
    assert audio is not None
    return audio


def test_plan_covers_everything_once() -> None:
    plan = plan_chunks(25.0, 10.0, 2.0)
    assert [round(start, 3) for start, *_ in plan] == [0.0, 8.0, 16.0]
    assert plan[-1][0] + plan[-1][1] == pytest.approx(25.0)
    # the owned spans tile the timeline: each instant belongs to exactly one chunk
    for (_, _, _, own_to), (_, _, own_from, _) in itertools.pairwise(plan):
        assert own_to == own_from
    assert plan_chunks(5.0, 10.0, 2.0) == [(0.0, 5.0, 0.0, float("inf"))]


def test_split_wav_lengths(paragraph: Path, tmp_path: Path) -> None:
    chunks = split_wav(paragraph, tmp_path, max_seconds=5.0, overlap_s=1.0)
    total = wav_duration(paragraph)
    assert len(chunks) >= 3
    assert all(c.duration_s <= 5.0 + 1e-6 for c in chunks)
    assert chunks[-1].offset_s + chunks[-1].duration_s == pytest.approx(total, abs=0.01)


def _words(*spec: tuple[float, float, str]) -> list[Word]:
    return [Word(start=s, end=e, word=w) for s, e, w in spec]


def test_stitch_keeps_each_word_once_at_its_real_time() -> None:
    first = AudioChunk(Path("a.wav"), 0.0, 10.0, 0.0, 9.0)
    second = AudioChunk(Path("b.wav"), 8.0, 10.0, 9.0, float("inf"))
    # "seven" (8.4-8.8 s) and "nine" (8.9-9.3 s) are heard by both chunks
    one = TranscriptOutput("one seven nine", [Segment(0.5, 9.3, "one seven nine", _words(
        (0.5, 0.9, "one"), (8.4, 8.8, "seven"), (8.9, 9.3, "nine")))], "en", 0.9, "m",
        details={"billing": {"audio_seconds": 10.0}})  # fmt: skip
    two = TranscriptOutput("seven nine ten", [Segment(0.4, 3.0, "seven nine ten", _words(
        (0.4, 0.8, "seven"), (0.9, 1.3, "nine"), (2.6, 3.0, "ten")))], "en", 0.8, "m",
        details={"billing": {"audio_seconds": 10.0}})  # fmt: skip
    merged = stitch([(first, one), (second, two)])
    words = [(w.word, w.start) for s in merged.segments for w in s.words]
    assert words == [("one", 0.5), ("seven", 8.4), ("nine", 8.9), ("ten", 10.6)]
    assert merged.text == "one seven nine ten"
    assert merged.details["billing"] == {"audio_seconds": 20.0}  # overlap is billed twice
    assert [c["offset_s"] for c in merged.details["chunks"]] == [0.0, 8.0]


def test_google_recognize_over_its_limit_is_split(
    paragraph: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(google_server, "MAX_SYNC_SECONDS", 5.0)
    monkeypatch.setattr(GoogleSpeechProvider, "max_seconds", 4.5)
    with FakeGoogle() as fake:
        provider = GoogleSpeechProvider(Settings(
            google_speech_api_key=fake.api_key, google_speech_base_url=fake.base_url,
            google_speech_project="demo", cloud_chunk_overlap_s=1.0,
        ))  # fmt: skip
        output = provider.transcribe(MediaInput(paragraph, MediaType.AUDIO, audio_path=paragraph))
    assert len(fake.audio_seconds) >= 3 and max(fake.audio_seconds) <= 5.0
    assert all(r.answered == 200 for r in fake.requests)
    words = [w for s in output.segments for w in s.words]
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert words[-1].end > 9.0  # times are the file's, not the chunk's
    assert jiwer.wer(_normalise(PARAGRAPH), _normalise(output.text)) < 0.5
    assert output.details["billing"]["audio_seconds"] >= wav_duration(paragraph)


def test_openai_over_25_mb_is_split_not_refused(
    paragraph: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 200_000  # ~6 s of 16 kHz 16-bit mono, standing in for 25 MB
    monkeypatch.setattr(OpenAITranscriptionProvider, "max_upload_bytes", limit)
    assert paragraph.stat().st_size > limit
    with FakeOpenAI() as fake:
        provider = OpenAITranscriptionProvider(Settings(
            openai_api_key=fake.api_key, openai_base_url=fake.base_url,
            cloud_chunk_overlap_s=1.0,
        ))  # fmt: skip
        output = provider.transcribe(MediaInput(paragraph, MediaType.AUDIO, audio_path=paragraph))
    assert len(fake.requests) >= 2
    for request in fake.requests:
        assert request.file_bytes is not None and len(request.file_bytes) <= limit
        with wave.open(BytesIO(request.file_bytes)) as uploaded:
            assert uploaded.getframerate() == 16000
    assert jiwer.wer(_normalise(PARAGRAPH), _normalise(output.text)) < 0.5
    assert output.segments[-1].end > 9.0
