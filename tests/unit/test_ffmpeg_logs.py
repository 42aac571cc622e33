"""FFmpeg's own messages never reach the terminal (issue 10 item 7); by default they do
not enter Python at all, since PyAV's Python callback can deadlock a decode."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av.logging
import pytest

from mediaflow.config import Settings
from mediaflow.media.audio import decode_audio
from mediaflow.media.avlog import FFMPEG_LOGGER, route_ffmpeg_logs
from mediaflow.runtime import Runtime
from tests.realworld_media import make_avi_ac3


@pytest.fixture
def damaged(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """An AVI whose AC-3 audio makes libav complain; the default routing restored after."""
    path = tmp_path / "damaged.avi"
    make_avi_ac3(path, seconds=2.0, cut_audio=(0,))
    capfd.readouterr()
    yield path
    route_ffmpeg_logs("off")  # no later test of this process may decode with the callback


def test_by_default_ffmpeg_keeps_its_messages_to_itself(
    damaged: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    Runtime(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", data_dir=tmp_path))  # type: ignore[call-arg]
    # None: PyAV's no-op callback, which never takes the GIL in FFmpeg's threads
    assert av.logging.get_level() is None
    with caplog.at_level(logging.DEBUG):
        track = decode_audio(damaged, tmp_path / "a.wav")
    assert track is not None and track.damage.damaged  # the damage is still counted
    out, err = capfd.readouterr()
    assert "@ 0x" not in out + err and "[ac3" not in out + err
    assert not [r for r in caplog.records if r.name.startswith(("libav", FFMPEG_LOGGER))]


def test_on_request_libav_messages_are_debug_records_not_stderr(
    damaged: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    route_ffmpeg_logs("warning")
    route_ffmpeg_logs("warning")  # idempotent: one handler, no doubled records
    with caplog.at_level(logging.DEBUG, logger=FFMPEG_LOGGER):
        track = decode_audio(damaged, tmp_path / "a.wav")
    assert track is not None and track.damage.damaged
    out, err = capfd.readouterr()
    assert "@ 0x" not in out + err and "[ac3" not in out + err
    records = [r for r in caplog.records if r.name == FFMPEG_LOGGER]
    assert records and all(r.levelno == logging.DEBUG for r in records)
    assert any(r.getMessage().startswith("[ac3] ") for r in records)
    assert len(logging.getLogger("libav").handlers) == 1
