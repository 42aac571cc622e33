"""Deterministic test media: speech, text images, videos with hard cuts, and bad inputs.

Everything here is generated locally (espeak-ng for speech, Pillow for text, PyAV for
encoding), so the tests and ``scripts/make_samples.py`` need no network and no
checked-in fixtures. The same inputs always give the same bytes on one machine:
the encoders run single-threaded and the muxers run with ``bitexact`` so no
timestamps or library version strings end up in the files.

This module lives under ``tests/`` on purpose: it is a test helper, not part of the
installed package. ``scripts/make_samples.py`` imports it with the repo root on
``sys.path``.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

# The sentences the samples speak; tests compare transcripts against these.
VIDEO_SENTENCE = "The quick brown fox jumps over the lazy dog. Media flow analyzes video and audio."
SPEECH_SENTENCE = "Hello from mediaflow. This is a test of speech recognition."
IMAGE_TEXT = "INVOICE 2024"
FIRST_SCENE_TEXT = "MEDIAFLOW"
SECOND_SCENE_TEXT = "SECOND SCENE"
# espeak-ng words per minute. 160 for the video keeps it near 6 s while tiny.en still
# gets most words right (at 175 it hears "lazy nard"); 150 for the short sentence.
VIDEO_SPEECH_WPM = 160
SPEECH_WPM = 150

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
# A mid-blue that differs from white in every channel, so any cut detector sees it.
SECOND_SCENE_COLOUR = (30, 90, 200)

RGBImage = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Shot:
    """One shot of a generated video: a solid background with centred text."""

    duration_s: float
    background: tuple[int, int, int] = WHITE
    text: str = ""
    text_colour: tuple[int, int, int] = BLACK


@dataclass(frozen=True)
class VideoInfo:
    """What a generated video holds, for tests to assert against."""

    path: Path
    duration_s: float
    fps: int
    width: int
    height: int
    cut_times_s: tuple[float, ...]  # time of the first frame of each shot after the first
    frame_count: int
    has_audio: bool
    sentence: str | None = None


# ----------------------------------------------------------------------------- text


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A large bold font: DejaVu when installed, Pillow's bundled scalable font otherwise."""
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def render_text(
    text: str,
    size: tuple[int, int],
    *,
    background: tuple[int, int, int] = WHITE,
    colour: tuple[int, int, int] = BLACK,
    font_size: int = 64,
) -> RGBImage:
    """Return an RGB array of ``size`` (width, height) with ``text`` centred on it."""
    image = Image.new("RGB", size, background)
    if text:
        draw = ImageDraw.Draw(image)
        font = _font(font_size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = (size[0] - (right - left)) // 2 - left
        y = (size[1] - (bottom - top)) // 2 - top
        draw.text((x, y), text, fill=colour, font=font)
    return np.asarray(image, dtype=np.uint8)


def make_text_image(
    path: Path, text: str = IMAGE_TEXT, *, size: tuple[int, int] = (800, 300)
) -> Path:
    """Write ``text`` in large black letters on white; the format follows the suffix."""
    path = Path(path)
    Image.fromarray(render_text(text, size, font_size=80)).save(path)
    return path


# ----------------------------------------------------------------------------- speech


def speak_wav(text: str, path: Path, voice: str = "en-us", speed: int = SPEECH_WPM) -> Path:
    """Synthesise ``text`` with espeak-ng into a WAV file (22.05 kHz mono s16)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    path = Path(path)
    subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def read_wav_int16(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    """Read a 16-bit PCM WAV as an int16 array of shape (channels, samples)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        channels = wav.getnchannels()
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.reshape(-1, channels).T.copy(), rate


def _to_stereo_44k(samples: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    """Resample mono speech to 44.1 kHz stereo, the common layout of real videos."""
    frame = av.AudioFrame.from_ndarray(samples[:1], format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=44100)
    chunks = [f.to_ndarray() for f in resampler.resample(frame)]
    chunks += [f.to_ndarray() for f in resampler.resample(None)]
    # Packed s16 stereo comes back as shape (1, 2 * n): de-interleave to (2, n).
    packed = np.concatenate(chunks, axis=1)
    return packed.reshape(-1, 2).T.astype(np.int16)


# ----------------------------------------------------------------------------- encoding

_BITEXACT = {"fflags": "+bitexact"}


def _encode_audio(
    container: av.container.OutputContainer,
    samples: npt.NDArray[np.int16],
    rate: int,
    codec: str,
    bit_rate: int,
) -> tuple[av.AudioStream, list[av.AudioFrame]]:
    """Add an audio stream and return it with the frames to encode (planar float)."""
    channels = samples.shape[0]
    layout = "mono" if channels == 1 else "stereo"
    stream = container.add_stream(codec, rate=rate, layout=layout)
    assert isinstance(stream, av.AudioStream)
    stream.bit_rate = bit_rate
    stream.codec_context.thread_count = 1
    frame = av.AudioFrame.from_ndarray(
        samples.reshape(1, -1, order="F") if channels > 1 else samples, format="s16", layout=layout
    )
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    return stream, [frame]


def make_video(
    path: Path,
    shots: Sequence[Shot],
    *,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    audio_wav: Path | None = None,
    stereo_44k: bool = True,
    faststart: bool = False,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    container_format: str | None = None,
    sentence: str | None = None,
    display_rotation: int | None = None,
    audio_offset_s: float = 0.0,
) -> VideoInfo:
    """Encode ``shots`` (and optionally the speech in ``audio_wav``) into a video file.

    The container follows the suffix unless ``container_format`` is given (e.g. "mp4"
    for a file named .mov). With ``faststart`` the moov atom goes to the front, which
    makes a truncated file open fine and fail later: the harder case for validation.
    ``display_rotation`` stores a display matrix (degrees counterclockwise), as
    phones do for portrait video; ``audio_offset_s`` starts the audio that late.
    """
    path = Path(path)
    width, height = size
    options = dict(_BITEXACT)
    if faststart:
        options["movflags"] = "+faststart"
    frame_counts = [round(s.duration_s * fps) for s in shots]
    total_frames = sum(frame_counts)
    cut_times = []
    elapsed = 0
    for count in frame_counts[:-1]:
        elapsed += count
        cut_times.append(elapsed / fps)

    with av.open(str(path), "w", format=container_format, options=options) as container:
        vstream = container.add_stream(video_codec, rate=fps)
        assert isinstance(vstream, av.VideoStream)
        vstream.width = width
        vstream.height = height
        vstream.pix_fmt = "yuv420p"
        vstream.codec_context.thread_count = 1  # x264 with threads is not bit-reproducible
        if display_rotation is not None:
            vstream.set_display_rotation(display_rotation)
        if video_codec == "libx264":
            vstream.options = {"preset": "medium", "crf": "28", "g": str(fps * 2)}
        audio_stream = None
        audio_frames: list[av.AudioFrame] = []
        if audio_wav is not None:
            samples, rate = read_wav_int16(audio_wav)
            if stereo_44k:
                samples, rate = _to_stereo_44k(samples, rate), 44100
            audio_stream, audio_frames = _encode_audio(
                container, samples, rate, audio_codec, 96_000 if stereo_44k else 48_000
            )
            for aframe in audio_frames:
                aframe.pts = round(audio_offset_s * rate)

        index = 0
        for shot, count in zip(shots, frame_counts, strict=True):
            picture = render_text(
                shot.text, size, background=shot.background, colour=shot.text_colour
            )
            for _ in range(count):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                frame.time_base = Fraction(1, fps)
                container.mux(vstream.encode(frame))
                index += 1
        container.mux(vstream.encode(None))
        if audio_stream is not None:
            for aframe in audio_frames:
                container.mux(audio_stream.encode(aframe))
            container.mux(audio_stream.encode(None))

    return VideoInfo(
        path=path,
        duration_s=total_frames / fps,
        fps=fps,
        width=width,
        height=height,
        cut_times_s=tuple(cut_times),
        frame_count=total_frames,
        has_audio=audio_wav is not None,
        sentence=sentence,
    )


def wav_duration_s(path: Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def make_video_with_text_and_speech(
    path: Path,
    *,
    sentence: str = VIDEO_SENTENCE,
    first_text: str = FIRST_SCENE_TEXT,
    second_text: str = SECOND_SCENE_TEXT,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    min_duration_s: float = 5.0,
    speed: int = VIDEO_SPEECH_WPM,
    container_format: str | None = None,
    faststart: bool = False,
) -> VideoInfo:
    """A two-shot H.264+AAC video with spoken ``sentence``.

    Shot one: black ``first_text`` on white. Shot two, after a hard cut half way: white
    ``second_text`` on blue. The video lasts as long as the speech plus half a second,
    and at least ``min_duration_s``.
    """
    path = Path(path)
    wav = path.with_name(path.name + ".speech.wav")
    try:
        speak_wav(sentence, wav, speed=speed)
        duration = max(min_duration_s, wav_duration_s(wav) + 0.5)
        first = round(duration / 2 * fps) / fps
        second = round((duration - first) * fps) / fps
        shots = [
            Shot(first, WHITE, first_text, BLACK),
            Shot(second, SECOND_SCENE_COLOUR, second_text, WHITE),
        ]
        return make_video(
            path,
            shots,
            fps=fps,
            size=size,
            audio_wav=wav,
            container_format=container_format,
            faststart=faststart,
            sentence=sentence,
        )
    finally:
        wav.unlink(missing_ok=True)


def make_two_shot_video(
    path: Path,
    *,
    shot_s: float = 3.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 180),
    container_format: str | None = None,
    video_codec: str = "libx264",
) -> VideoInfo:
    """A silent video with two shots and one hard cut at ``shot_s``."""
    shots = [
        Shot(shot_s, WHITE, "ONE", BLACK),
        Shot(shot_s, SECOND_SCENE_COLOUR, "TWO", WHITE),
    ]
    return make_video(
        path,
        shots,
        fps=fps,
        size=size,
        container_format=container_format,
        video_codec=video_codec,
    )


def make_speech_audio(
    path: Path,
    sentence: str = SPEECH_SENTENCE,
    *,
    codec: str | None = None,
    bit_rate: int = 32_000,
) -> Path:
    """Speak ``sentence`` into an audio-only file; codec follows the suffix by default.

    .mp3 -> MP3, .ogg/.opus -> Opus, .m4a -> AAC in MP4 with the iTunes "M4A " brand,
    .mp4 -> AAC in plain MP4 (brand isom), .flac -> FLAC, .wav -> PCM.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".wav" and codec is None:
        return speak_wav(sentence, path)
    default_codecs = {
        ".mp3": "libmp3lame",
        ".ogg": "libopus",
        ".opus": "libopus",
        ".m4a": "aac",
        ".mp4": "aac",
        ".flac": "flac",
    }
    codec = codec or default_codecs[suffix]
    wav = path.with_name(path.name + ".speech.wav")
    try:
        speak_wav(sentence, wav)
        samples, rate = read_wav_int16(wav)
    finally:
        wav.unlink(missing_ok=True)
    if codec == "libopus":
        # Opus runs at 48 kHz only.
        samples = _resample_mono(samples, rate, 48000)
        rate = 48000
    fmt = {".m4a": "ipod", ".opus": "ogg"}.get(suffix)
    with av.open(str(path), "w", format=fmt, options=dict(_BITEXACT)) as container:
        stream, frames = _encode_audio(container, samples, rate, codec, bit_rate)
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _resample_mono(
    samples: npt.NDArray[np.int16], rate: int, new_rate: int
) -> npt.NDArray[np.int16]:
    frame = av.AudioFrame.from_ndarray(samples[:1], format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=new_rate)
    out = [f.to_ndarray() for f in resampler.resample(frame)]
    out += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(out, axis=1).astype(np.int16)


# ----------------------------------------------------------------------------- bad inputs


def make_truncated_video(path: Path, *, keep: float = 0.5, faststart: bool = False) -> Path:
    """A valid two-shot MP4 cut to ``keep`` of its bytes (as an interrupted upload is).

    Without ``faststart`` the moov atom (at the end) is lost; with it the index
    survives but the media data stops half way.
    """
    path = Path(path)
    make_video_with_text_and_speech(path, container_format="mp4", faststart=faststart)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_text_file_renamed(path: Path) -> Path:
    """A plain text file carrying a media name such as ``clip.mp4``."""
    path = Path(path)
    path.write_text("This is not a video.\nJust some text with a .mp4 name.\n", encoding="utf-8")
    return path


def make_zero_byte(path: Path) -> Path:
    """An empty file."""
    path = Path(path)
    path.write_bytes(b"")
    return path


def make_unsupported(path: Path) -> Path:
    """A small PDF: a real, recognisable format that is not media."""
    path = Path(path)
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )
    return path


def make_random_bytes(path: Path, size: int = 4096, seed: int = 1234) -> Path:
    """Random bytes with no recognisable header."""
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


# ----------------------------------------------------------------------------- visual coverage


def encode_video(
    path: Path,
    pictures: Iterable[RGBImage],
    *,
    fps: int,
    size: tuple[int, int],
    gop_s: float | None = None,
) -> Path:
    """Encode RGB ``pictures`` (each of ``size``) as H.264 at ``fps``; key frames every ``gop_s``."""
    path = Path(path)
    with av.open(str(path), "w", options=dict(_BITEXACT)) as container:
        stream = container.add_stream("libx264", rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        gop = str(round((gop_s or 2.0) * fps))
        stream.options = {"preset": "veryfast", "crf": "26", "g": gop, "keyint_min": gop}
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_slides_video(
    path: Path,
    texts: Sequence[str],
    *,
    slide_s: float = 3.0,
    fps: int = 5,
    size: tuple[int, int] = (640, 360),
) -> Path:
    """A talk's slides: each text on white for ``slide_s``, a hard cut between them."""
    per_slide = round(slide_s * fps)
    slides = [render_text(text, size, font_size=48) for text in texts]
    return encode_video(
        path, (slide for slide in slides for _ in range(per_slide)), fps=fps, size=size
    )


def make_fade_in_video(
    path: Path,
    *,
    first_s: float = 2.0,
    fade_s: float = 1.0,
    hold_s: float = 3.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 180),
    text: str = "FADE",
) -> Path:
    """A blue first shot, then a cut to black that fades in to ``text`` on white."""
    first = render_text("ONE", size, background=SECOND_SCENE_COLOUR, colour=WHITE, font_size=48)
    target = render_text(text, size, font_size=64).astype(np.float32)
    steps = round(fade_s * fps)

    def pictures() -> Iterable[RGBImage]:
        for _ in range(round(first_s * fps)):
            yield first
        for step in range(steps):
            yield (target * (step / steps)).astype(np.uint8)
        for _ in range(round(hold_s * fps)):
            yield target.astype(np.uint8)

    return encode_video(path, pictures(), fps=fps, size=size)


def make_static_video(
    path: Path,
    text: str,
    *,
    duration_s: float,
    fps: int = 1,
    size: tuple[int, int] = (320, 180),
    moving: bool = False,
    noise: int = 0,
    gop_s: float | None = None,
) -> Path:
    """One unchanging shot of ``text``.

    ``moving``: a small square crosses the bottom edge; ``noise``: every frame gets its
    own random grain of +-``noise`` levels (a camera's sensor, film grain).
    """
    still = render_text(text, size, font_size=40)
    grain = np.random.default_rng(3)

    def pictures() -> Iterable[RGBImage]:
        for index in range(round(duration_s * fps)):
            if noise:
                shake = grain.integers(-noise, noise + 1, size=still.shape)
                yield np.clip(still.astype(np.int16) + shake, 0, 255).astype(np.uint8)
                continue
            if not moving:
                yield still
                continue
            picture = still.copy()
            x = (index * 7) % (size[0] - 24)
            picture[size[1] - 24 : size[1] - 4, x : x + 20] = (200, 30, 30)
            yield picture

    return encode_video(path, pictures(), fps=fps, size=size, gop_s=gop_s)
