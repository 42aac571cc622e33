"""Spoken-language identification: German and Spanish speech are told apart from English,
transcribed with the multilingual base model, and the language is stored with its
probability; silence gives an empty transcript, not an error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderError
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.base import MediaInput
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.providers.transcription.whisper_models import base_dir, base_installed
from mediaflow.runtime import Runtime
from mediaflow.services import media
from tests import media_factory as mf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(base_installed() is not None, reason=str(base_installed())),
]

GERMAN = "Guten Morgen. Heute ist das Wetter sehr schön, und wir gehen in den Park."
SPANISH = "Buenos días. Hoy hace muy buen tiempo y vamos a caminar por la playa."
ENGLISH = "Good morning. The weather is lovely today and we are going to the park."


def _wav16k(text: str, voice: str, path: Path) -> Path:
    raw = mf.speak_wav(text, path.with_suffix(".raw.wav"), voice=voice, speed=140)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> object:
    data = tmp_path_factory.mktemp("whisper")
    registry = ProviderRegistry(Settings(data_dir=data, diarization=False))
    provider = registry.transcriber("faster_whisper")
    yield provider
    registry.clear()


@pytest.mark.parametrize(
    ("voice", "text", "language"), [("de", GERMAN, "de"), ("es", SPANISH, "es")]
)
def test_german_and_spanish_are_identified_and_transcribed_with_base(
    whisper: object, tmp_path: Path, voice: str, text: str, language: str
) -> None:
    wav = _wav16k(text, voice, tmp_path / f"{voice}.wav")
    out = whisper.transcribe(MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav))  # type: ignore[attr-defined]
    assert out.language == language
    assert out.language_probability is not None and out.language_probability > 0.5
    assert out.model == "faster-whisper-base"
    assert out.details["model_choice"] == f"detected {language}"
    assert out.text.strip()


def test_english_stays_on_tiny_en_with_the_detections_probability(
    whisper: object, tmp_path: Path
) -> None:
    wav = _wav16k(ENGLISH, "en-us", tmp_path / "en.wav")
    out = whisper.transcribe(MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav))  # type: ignore[attr-defined]
    assert (out.language, out.model) == ("en", "tiny.en")
    assert out.language_probability is not None and out.language_probability > 0.5
    assert "park" in out.text.lower()


def test_a_job_may_ask_for_a_model_and_a_bad_choice_is_a_clear_error(
    whisper: object, tmp_path: Path
) -> None:
    wav = _wav16k(ENGLISH, "en-us", tmp_path / "en.wav")
    asked = MediaInput(
        path=wav, media_type=MediaType.AUDIO, audio_path=wav, options={"model": "base"}
    )
    out = whisper.transcribe(asked)  # type: ignore[attr-defined]
    assert (out.model, out.language) == ("faster-whisper-base", "en")
    bad = MediaInput(
        path=wav, media_type=MediaType.AUDIO, audio_path=wav, options={"model": "/etc"}
    )
    with pytest.raises(ProviderError, match="unknown Whisper model"):
        whisper.transcribe(bad)  # type: ignore[attr-defined]


def test_silence_is_an_empty_transcript(whisper: object, tmp_path: Path) -> None:
    wav = tmp_path / "silence.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "trim", "0", "3"], check=True
    )
    out = whisper.transcribe(MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav))  # type: ignore[attr-defined]
    assert out.segments == [] and out.text == ""


def test_the_language_and_its_probability_are_stored(runtime: Runtime, tmp_path: Path) -> None:
    wav = _wav16k(GERMAN, "de", tmp_path / "interview.wav")
    job = ingest(runtime, [wav], providers=["faster_whisper"])
    run_job(runtime, job.job_id)
    stored = media.get_transcription(runtime, job.media_file_ids[0])
    assert stored.language == "de"
    assert stored.language_probability is not None and stored.language_probability > 0.5


def test_the_setting_base_makes_the_multilingual_model_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, whisper_model="base", diarization=False)
    registry = ProviderRegistry(settings)
    try:
        provider = registry.transcriber("faster_whisper")
        assert provider.availability().available
        assert "base (multilingual)" in provider.model_info()
        wav = _wav16k(SPANISH, "es", tmp_path / "es.wav")
        out = provider.transcribe(MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav))
        assert (out.model, out.language) == ("faster-whisper-base", "es")
        assert out.details["model_choice"] == "default"
        assert out.details["language_detection"] is None  # the model itself identified it
        # joined once into the cache folder, checksum checked
        assert (base_dir(settings) / "model.bin").stat().st_size > 1e8
    finally:
        registry.clear()
