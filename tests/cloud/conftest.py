"""Fixtures of the cloud provider tests: media in the pipeline's own formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mediaflow.media.audio import extract_audio
from tests import media_factory as mf


@pytest.fixture(scope="session")
def speech_16k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The known sentence as the pipeline hands it to providers: 16 kHz mono WAV."""
    work = tmp_path_factory.mktemp("cloud-speech")
    spoken = mf.speak_wav(mf.SPEECH_SENTENCE, work / "spoken.wav")
    audio = extract_audio(spoken, work / "audio.wav")
    assert audio is not None
    return audio


@pytest.fixture(scope="session")
def red_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A red 320x200 PNG with a word on it."""
    path = tmp_path_factory.mktemp("cloud-image") / "red.png"
    image = Image.new("RGB", (320, 200), (220, 30, 30))
    ImageDraw.Draw(image).text((20, 20), "HELLO", fill=(255, 255, 255))
    image.save(path)
    return path
