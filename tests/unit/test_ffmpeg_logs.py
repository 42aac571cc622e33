"""FFmpeg's own messages go to logging (issue 10 item 7), never to the terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mediaflow.media.audio import decode_audio
from mediaflow.media.avlog import FFMPEG_LOGGER, route_ffmpeg_logs
from tests.realworld_media import make_avi_ac3


def test_libav_messages_are_debug_records_not_stderr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "damaged.avi"
    make_avi_ac3(path, seconds=2.0, cut_audio=(0,))
    capfd.readouterr()
    route_ffmpeg_logs()
    route_ffmpeg_logs()  # idempotent: one handler, no doubled records
    with caplog.at_level(logging.DEBUG, logger=FFMPEG_LOGGER):
        track = decode_audio(path, tmp_path / "a.wav")
    assert track is not None and track.damage.damaged
    out, err = capfd.readouterr()
    assert "@ 0x" not in out + err and "[ac3" not in out + err
    records = [r for r in caplog.records if r.name == FFMPEG_LOGGER]
    assert records and all(r.levelno == logging.DEBUG for r in records)
    assert any(r.getMessage().startswith("[ac3] ") for r in records)
    assert len(logging.getLogger("libav").handlers) == 1
