"""The faster-whisper decoders (pauses, sequential, batched) on the bundled tiny.en and
espeak-ng speech.

Each must hear the words (the bench compares their speed; here only that each is
right), keep word timestamps inside the audio, and say which ran. Pause decoding
must also hear a long recording cut into chunks exactly as it hears it whole.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import wave
from pathlib import Path

import jiwer
import pytest
from pydantic import ValidationError

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.pipeline.chunks import plan_chunks, stitch_transcripts
from mediaflow.providers.base import MediaInput, TranscriptOutput
from mediaflow.providers.transcription.faster_whisper import FasterWhisperProvider
from mediaflow.providers.transcription.whisper_decoding import decode

TEXT = (
    "The weather today is sunny and warm, with a light breeze from the west. "
    "Please send the invoice to the finance department before Friday. "
    "Open the door and turn on the lights in the kitchen."
)


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _espeak_wav(folder: Path, text: str, *options: str) -> Path:
    """espeak-ng reading ``text`` (en-us), as the pipeline's 16 kHz mono WAV."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed (apt-get install espeak-ng sox)")
    raw, wav = folder / "raw.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", *options, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sentences of espeak-ng speech."""
    return _espeak_wav(tmp_path_factory.mktemp("whisper-decoding"), TEXT, "-s", "150")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pauses", "sequential", "batched"])
def test_each_decoding_mode_hears_the_words(speech: Path, mode: str) -> None:
    provider = FasterWhisperProvider(Settings(whisper_decoding=mode, whisper_batch_size=4))
    out = provider.transcribe(
        MediaInput(path=speech, media_type=MediaType.AUDIO, audio_path=speech)
    )
    error = jiwer.wer(_normalise(TEXT), _normalise(out.text))
    assert error < 0.15, f"{mode}: WER {error:.2f} -> {out.text!r}"
    assert out.details["decoding"] == mode
    duration = out.details["duration_s"]
    words = [w for s in out.segments for w in s.words]
    assert len(words) >= len(TEXT.split()) - 3
    for word in words:
        assert 0.0 <= word.start <= word.end <= duration + 0.5
    starts = [w.start for w in words]
    assert starts == sorted(starts)


LONG_TEXT = " ".join(
    [
        TEXT,
        "The meeting moved to Tuesday at ten, in the small room on the second floor.",
        "Bring the quarterly numbers, the draft budget, and the list of open questions.",
        "After lunch we will walk through the new schedule for the spring season.",
        "Every team should name one person who answers for the shared calendar.",
        "If the train is late, call the office and we will start without you.",
        "The report is due at the end of the month, and nobody likes a late report.",
        "Thank you all for listening, and see you next week at the same time.",
    ]
)


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About a minute of espeak-ng speech (more than two pause windows)."""
    folder = tmp_path_factory.mktemp("whisper-long")
    return _espeak_wav(folder, LONG_TEXT, "-s", "140", "-g", "6")


@pytest.mark.slow
def test_chunks_decoded_at_pauses_stitch_into_the_whole_transcript(
    long_speech: Path, tmp_path: Path
) -> None:
    provider = FasterWhisperProvider(Settings(whisper_decoding="pauses"))
    whole = provider.transcribe(
        MediaInput(path=long_speech, media_type=MediaType.AUDIO, audio_path=long_speech)
    )
    with wave.open(str(long_speech), "rb") as source:
        frames = source.readframes(source.getnframes())
    duration = len(frames) / 2 / 16_000
    chunks = plan_chunks(duration, threshold_s=30.0, length_s=24.0, overlap_s=5.0)
    assert len(chunks) >= 2, duration
    outputs = []
    for chunk in chunks:
        first, last = round(chunk.audio_start_s * 16_000), round(chunk.audio_end_s * 16_000)
        piece = tmp_path / f"chunk{chunk.index}.wav"
        with wave.open(str(piece), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16_000)
            out.writeframes(frames[first * 2 : last * 2])
        last_chunk = chunk.index == len(chunks) - 1
        output = provider.transcribe(
            MediaInput(
                path=piece, media_type=MediaType.AUDIO, audio_path=piece,
                audio_offset_s=chunk.audio_start_s,
                span_s=(chunk.start_s or None, None if last_chunk else chunk.end_s),
            )
        )  # fmt: skip
        outputs.append(_shifted(output, chunk.audio_start_s))
    stitched = stitch_transcripts(chunks, outputs)

    def words(output: TranscriptOutput) -> list[tuple[str, float]]:
        return [(w.word, w.start) for s in output.segments for w in s.words]

    assert [w for w, _ in words(stitched)] == [w for w, _ in words(whole)]
    assert [t for _, t in words(stitched)] == pytest.approx([t for _, t in words(whole)], abs=0.01)
    assert jiwer.wer(_normalise(LONG_TEXT), _normalise(whole.text)) < 0.2


def _shifted(output: TranscriptOutput, seconds: float) -> TranscriptOutput:
    """``output`` with its times (and span) moved ``seconds`` later, as chunked.py does."""
    segments = [
        dataclasses.replace(
            s,
            start=s.start + seconds,
            end=s.end + seconds,
            words=[
                dataclasses.replace(w, start=w.start + seconds, end=w.end + seconds)
                for w in s.words
            ],
        )
        for s in output.segments
    ]
    span = output.details["span_s"]
    details = {**output.details, "span_s": [span[0] + seconds, span[1] + seconds]}
    return dataclasses.replace(output, segments=segments, details=details)


def test_an_unknown_decoding_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="whisper_decoding"):
        Settings(whisper_decoding="parallel")
    with pytest.raises(ValueError, match="unknown whisper decoding mode"):
        decode(object(), "x.wav", mode="parallel", language=None, beam_size=1, batch_size=1)  # type: ignore[arg-type]
