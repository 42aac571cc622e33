"""The two faster-whisper decoders (sequential, batched) on the bundled tiny.en and espeak-ng speech.

Both must hear the same words (the bench compares their speed; here only that
each is right), keep word timestamps inside the audio, and say which ran.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jiwer
import pytest
from pydantic import ValidationError

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.providers.base import MediaInput
from mediaflow.providers.transcription.faster_whisper import FasterWhisperProvider
from mediaflow.providers.transcription.whisper_decoding import decode

TEXT = (
    "The weather today is sunny and warm, with a light breeze from the west. "
    "Please send the invoice to the finance department before Friday. "
    "Open the door and turn on the lights in the kitchen."
)


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sentences of espeak-ng speech, as the pipeline's 16 kHz mono WAV."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed (apt-get install espeak-ng sox)")
    folder = tmp_path_factory.mktemp("whisper-decoding")
    raw, wav = folder / "raw.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sequential", "batched"])
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


def test_an_unknown_decoding_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="whisper_decoding"):
        Settings(whisper_decoding="parallel")
    with pytest.raises(ValueError, match="unknown whisper decoding mode"):
        decode(object(), "x.wav", mode="parallel", language=None, beam_size=1, batch_size=1)  # type: ignore[arg-type]
