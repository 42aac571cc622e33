"""A chunk's media: its audio equal to the same span of the whole file's, its video cut."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from mediaflow.errors import UnsupportedMedia
from mediaflow.media.audio import extract_audio, load_wav
from mediaflow.pipeline.chunk_media import cut, extract_audio_range
from tests import media_factory as mf
from tests.talk_factory import make_talk


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_talk(tmp_path_factory.mktemp("cut") / "talk.mp4", 12, slide_s=4, size=(320, 180))


@pytest.mark.slow
def test_chunk_audio_is_the_whole_files_audio_sample_for_sample(talk: Path, tmp_path: Path) -> None:
    whole = extract_audio(talk, tmp_path / "whole.wav")
    assert whole is not None
    samples, rate = load_wav(whole)
    for start, end in [(0.0, 5.0), (3.5, 9.25), (8.0, 12.0)]:
        piece = extract_audio_range(talk, tmp_path / f"{start}.wav", start, end)
        assert piece is not None
        part, part_rate = load_wav(piece)
        assert part_rate == rate and len(part) == round((end - start) * rate)
        expected = samples[round(start * rate) : round(end * rate)]
        # AAC decoded after a seek would differ (noise substitution, priming): not here
        np.testing.assert_array_equal(part[: len(expected)], expected)


@pytest.mark.slow
def test_a_span_past_the_audio_is_silence_and_no_audio_is_none(talk: Path, tmp_path: Path) -> None:
    piece = extract_audio_range(talk, tmp_path / "tail.wav", 11.0, 14.0)
    assert piece is not None
    part, rate = load_wav(piece)
    assert len(part) == 3 * rate and not part[-rate:].any()
    video_only = tmp_path / "video.mkv"
    cut(talk, video_only, 0.0, 2.0, audio=False)
    assert extract_audio_range(video_only, tmp_path / "none.wav", 0.0, 1.0) is None


@pytest.mark.slow
def test_cut_keeps_the_original_clock(talk: Path, tmp_path: Path) -> None:
    offset = cut(talk, tmp_path / "c.mkv", 5.0, 9.0, audio=False)
    with av.open(str(tmp_path / "c.mkv")) as container:
        assert not container.streams.audio and container.streams.video
        frames = list(container.decode(video=0))
    times = [f.time for f in frames]
    # it starts at the key frame at or before 5 s (x264 puts one at the slide change at
    # 4 s), and its times are the original's (a frame at t in the chunk is at t in the file)
    assert frames[0].key_frame and 4.0 <= offset <= 5.0
    assert times[0] == pytest.approx(offset, abs=0.01) and 8.8 <= times[-1] < 9.0
    assert times == sorted(times)


def test_cut_of_a_file_that_is_not_media_is_a_clear_error(tmp_path: Path) -> None:
    junk = mf.make_random_bytes(tmp_path / "junk.mp4")
    with pytest.raises(UnsupportedMedia):
        cut(junk, tmp_path / "out.mkv", 0.0, 1.0)
