"""Diarization without torch: two espeak voices taking turns become two speakers, a single
voice stays one, silence gives no speakers; transcripts, exports and renames carry them."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from mediaflow.errors import InvalidInput, NotFound
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.speakers import diarization_available
from mediaflow.providers.speakers.diarize import Turn, diarize
from mediaflow.providers.speakers.encoder import mel_filters, weights_path
from mediaflow.providers.speakers.torch_pickle import load_state_dict
from mediaflow.runtime import Runtime
from mediaflow.services import media, speakers
from tests import media_factory as mf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(diarization_available() is not None, reason=str(diarization_available())),
]

TURNS = [
    ("en-us", "Good morning everyone, thank you for joining the meeting today."),
    ("en+f3", "Thanks for having me. I have looked at the budget numbers from last week."),
    ("en-us", "Great. Could you tell us whether the project is still on schedule?"),
    ("en+f3", "Mostly yes, although the testing phase may take two more weeks."),
    ("en-us", "That is fine. Let us plan the release for the end of next month."),
    ("en+f3", "Agreed. I will send the updated plan to the whole team tomorrow."),
]
PAUSE_S = 0.5


def make_dialog(
    folder: Path, turns: list[tuple[str, str]] = TURNS
) -> tuple[Path, list[tuple[float, float, str]]]:
    """A 16 kHz mono WAV of the turns with pauses between; the true (start, end, voice)."""
    pieces, truth, at = [], [], 0.0
    for i, (voice, text) in enumerate(turns):
        raw = mf.speak_wav(text, folder / f"turn{i}.raw.wav", voice=voice)
        out = folder / f"turn{i}.wav"
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True
        )
        samples, _ = mf.read_wav_int16(out)
        samples = samples.reshape(-1)
        pieces += [samples, np.zeros(int(PAUSE_S * 16000), np.int16)]
        truth.append((at, at + len(samples) / 16000, voice))
        at += len(samples) / 16000 + PAUSE_S
    path = folder / "dialog.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.concatenate(pieces).tobytes())
    return path, truth


def accuracy(turns: list[Turn], truth: list[tuple[float, float, str]]) -> float:
    """Share of the speech time (found and true) whose speaker is its voice's (best mapping)."""
    overlap: dict[tuple[str, str], float] = {}
    for start, end, voice in truth:
        for turn in turns:
            shared = min(turn.end, end) - max(turn.start, start)
            if shared > 0:
                overlap[(voice, turn.speaker)] = overlap.get((voice, turn.speaker), 0) + shared
    mapping: dict[str, str] = {}
    for (voice, speaker), _ in sorted(overlap.items(), key=lambda kv: -kv[1]):
        if voice not in mapping and speaker not in mapping.values():
            mapping[voice] = speaker
    right = sum(t for (v, s), t in overlap.items() if mapping.get(v) == s)
    return right / sum(overlap.values())


def coverage(turns: list[Turn], truth: list[tuple[float, float, str]]) -> float:
    """Share of the true turns' time that some found turn covers (espeak's own leading and
    trailing silence inside each turn is not speech, so this stays below 1)."""
    covered = sum(
        max(0.0, min(turn.end, end) - max(turn.start, start))
        for start, end, _ in truth
        for turn in turns
    )
    return covered / sum(end - start for start, end, _ in truth)


def test_the_checkpoint_reads_without_torch() -> None:
    path = weights_path()
    assert path is not None
    state = load_state_dict(path)["model_state"]
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    filters = mel_filters()
    assert filters.shape == (40, 201) and (filters >= 0).all()
    assert (filters.argmax(axis=1) == np.sort(filters.argmax(axis=1))).all()  # rising bands


def test_two_voices_taking_turns_are_two_speakers(tmp_path: Path) -> None:
    path, truth = make_dialog(tmp_path)
    found = diarize(path, threshold=0.65)
    assert found.speakers == ["Speaker 1", "Speaker 2"]
    assert accuracy(found.turns, truth) >= 0.9
    assert coverage(found.turns, truth) >= 0.75
    bounded = diarize(path, threshold=0.65, max_speakers=1)
    assert bounded.speakers == ["Speaker 1"]


def test_one_voice_is_one_speaker_and_silence_none(tmp_path: Path) -> None:
    path, _ = make_dialog(tmp_path, [("en-us", text) for _, text in TURNS[:4]])
    assert diarize(path, threshold=0.65).speakers == ["Speaker 1"]
    silence = tmp_path / "silence.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(silence), "trim", "0", "2"],
        check=True,
    )
    assert diarize(silence, threshold=0.65).turns == []


def test_the_pipeline_gives_segments_speakers_exports_and_renames(
    runtime: Runtime, tmp_path: Path
) -> None:
    path, truth = make_dialog(tmp_path)
    job = ingest(runtime, [path], providers=["faster_whisper"])
    run_job(runtime, job.job_id)
    (media_id,) = job.media_file_ids
    stored = media.get_transcription(runtime, media_id)
    assert {s.speaker for s in stored.segments} == {"Speaker 1", "Speaker 2"}
    # every segment is inside one true turn of its speaker
    spoken = right = 0.0
    voice_of = {"Speaker 1": "en-us", "Speaker 2": "en+f3"}
    for segment in stored.segments:
        for start, end, voice in truth:
            shared = min(segment.end, end) - max(segment.start, start)
            if shared > 0:
                spoken += shared
                right += shared if voice_of[segment.speaker or ""] == voice else 0
    assert right / spoken >= 0.9

    vtt = media.export(runtime, media_id, "vtt")
    assert "<v Speaker 1>Good morning" in vtt and "<v Speaker 2>" in vtt
    srt = media.export(runtime, media_id, "srt")
    assert "\nSpeaker 2: " in srt

    listed = speakers.list_speakers(runtime, media_id)
    assert [s.name for s in listed] == ["Speaker 1", "Speaker 2"]
    speakers.rename_speaker(runtime, media_id, "Speaker 2", "Alice")
    assert "<v Alice>" in media.export(runtime, media_id, "vtt")
    assert speakers.media_with_speaker(runtime, "Alice") == [media_id]
    assert speakers.media_with_speaker(runtime, "Speaker 2") == []
    with pytest.raises(NotFound, match="no speaker"):
        speakers.rename_speaker(runtime, media_id, "Speaker 9", "Bob")
    with pytest.raises(InvalidInput):
        speakers.rename_speaker(runtime, media_id, "Alice", "  ")
    assert [s.name for s in speakers.list_speakers(runtime, media_id)] == ["Speaker 1", "Alice"]


def test_long_files_cluster_a_sample_and_assign_the_rest() -> None:
    from mediaflow.providers.speakers import diarize as module

    rng = np.random.default_rng(3)
    voices = rng.normal(size=(2, 256))
    truth = np.repeat([0, 1, 0, 1], 600)  # 2400 windows > MAX_LINKAGE
    vectors = voices[truth] + rng.normal(scale=0.35, size=(len(truth), 256))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    assert len(truth) > module.MAX_LINKAGE
    labels = module.cluster(vectors, 0.65, None)
    assert sorted(set(labels.tolist())) == [0, 1]
    assert (labels == truth).mean() > 0.99
