"""A generated talk: changing slides (video) and espeak-ng reading a known text (audio).

Used by the long-media tests (a 40 s talk cut into 15 s chunks) and by
bench/long_video.py (up to an hour). Nothing generated here is committed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from tests import media_factory as mf

TALK_TEXT = (
    "Welcome to this talk about media analysis. Today we look at how a system reads "
    "speech, text on screen, faces and scenes from long recordings, and how people find "
    "the moment they need. We start with the pipeline, continue with search, and end "
    "with questions from the audience. "
    "The weather report said that heavy rain would arrive in the north by the evening, "
    "while the south stays dry and warm. "
    "Seven engineers reviewed the design document on Monday and found three problems in "
    "the storage layer. "
)
PALETTE = [(30, 60, 120), (240, 240, 235), (20, 90, 60), (90, 30, 70), (50, 50, 50)]
WORDS_PER_MINUTE = 160


def slide(number: int, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """Slide ``number``: "PART n" and a bullet line on its own background colour."""
    width, height = size
    background = PALETTE[number % len(PALETTE)]
    colour = mf.BLACK if sum(background) > 400 else mf.WHITE
    scale = height / 720
    title = mf.render_text(f"PART {number + 1}", (width, height // 2), background=background,
                           colour=colour, font_size=int(72 * scale))  # fmt: skip
    bullet = mf.render_text(f"topic {number * 7 + 3} of the talk", (width, height - height // 2),
                            background=background, colour=colour, font_size=int(48 * scale))  # fmt: skip
    return np.concatenate([title, bullet], axis=0)


def talk_text(seconds: float) -> str:
    """The text read in a talk of ``seconds`` (a little more: the audio is cut to length)."""
    repeats = int(seconds / 60 * WORDS_PER_MINUTE / len(TALK_TEXT.split())) + 1
    return TALK_TEXT * repeats


def speak(path: Path, seconds: float) -> Path:
    """espeak-ng reading ``talk_text(seconds)`` into the WAV ``path``."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is needed: apt-get install espeak-ng")
    text = path.with_suffix(".txt")
    text.write_text(talk_text(seconds))
    subprocess.run([exe, "-s", str(WORDS_PER_MINUTE), "-w", str(path), "-f", str(text)],
                   check=True, capture_output=True)  # fmt: skip
    return path


def make_talk(
    path: Path,
    seconds: float,
    *,
    fps: int = 10,
    slide_s: float = 30.0,
    size: tuple[int, int] = (1280, 720),
) -> Path:
    """Encode the talk (H.264 + AAC mono), ``seconds`` long, a new slide every ``slide_s``."""
    wav = speak(path.with_suffix(".wav"), seconds)
    samples, rate = mf.read_wav_int16(wav)
    samples = samples[:, : int(seconds * rate)]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "28", "g": str(fps * 10)}
        audio = container.add_stream("aac", rate=rate)
        assert isinstance(audio, av.AudioStream)
        audio.layout = "mono"

        def frames() -> Iterator[np.ndarray]:
            per_slide = int(slide_s * fps)
            for number in range(int(seconds // slide_s) + 1):
                picture = slide(number, size)
                for _ in range(per_slide):
                    yield picture

        for index, picture in enumerate(frames()):
            if index >= seconds * fps:
                break
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for start in range(0, samples.shape[1], rate):
            chunk = np.ascontiguousarray(samples[:, start : start + rate])
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    wav.unlink(missing_ok=True)
    return path


__all__ = ["TALK_TEXT", "make_talk", "slide", "speak", "talk_text"]
