"""Real-world media (issue 10 items 1-3, 6; issue 9 item 5): damaged but playable
files, variable frame rates, every pixel format, animations, image size limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from mediaflow.db.enums import MediaType
from mediaflow.errors import InvalidInput, UnsupportedMedia
from mediaflow.media.audio import decode_audio
from mediaflow.media.detect import detect
from mediaflow.media.frames import SamplingPolicy, sample_frames
from mediaflow.media.images import load_rgb
from mediaflow.media.limits import DecodeLimits
from mediaflow.media.probe import probe
from tests.realworld_media import make_animated_image, make_avi_ac3, make_vfr_avi

# ----------------------------------------------------------------------------- damage


def test_avi_with_damaged_ac3_frames_is_accepted_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _, audio_packets = make_avi_ac3(path, seconds=6.0, cut_audio=(0, -1))
    info = probe(path)  # used to be "cannot decode the ac3 audio stream"
    assert info.media_type is MediaType.VIDEO
    assert info.codecs == {"video": "mpeg4", "audio": "ac3"}
    track = decode_audio(path, tmp_path / "a.wav")
    assert track is not None
    assert track.damage.bad_packets >= 1
    assert track.damage.packets >= audio_packets - 2
    assert "ac3 audio packets undecodable" in track.damage.summary()
    assert track.damage.to_dict()["bad_at_s"][0] == pytest.approx(0.0, abs=0.1)
    sample = sample_frames(path, MediaType.VIDEO)
    assert sample.frames and sample.damage is not None and not sample.damage.damaged


def test_too_much_damage_fails_with_the_threshold_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.avi"
    make_avi_ac3(path, seconds=3.0, cut_audio=tuple(range(1, 60, 2)))
    with pytest.raises(InvalidInput, match=r"too little decodes: \d+ of \d+ ac3 audio packets"):
        decode_audio(path, tmp_path / "a.wav", DecodeLimits(max_undecodable_fraction=0.25))
    # a looser threshold accepts the same file
    track = decode_audio(path, tmp_path / "b.wav", DecodeLimits(max_undecodable_fraction=0.9))
    assert track is not None and track.damage.fraction > 0.25


def test_variable_frame_rate_avi_is_complete_by_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.avi"
    times = [round(float(t), 3) for t in np.linspace(0.0, 29.5, 68)]
    make_vfr_avi(path, times_s=times, header_fps=15)
    info = probe(path)  # used to be "69 of 444 video frames present"
    assert info.duration_s == pytest.approx(29.5, abs=0.2)
    sample = sample_frames(path, MediaType.VIDEO)
    assert sample.frames[-1].end_s == pytest.approx(29.5, abs=0.2)


def test_cut_avi_is_still_refused_by_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.avi"
    make_vfr_avi(path, times_s=[i / 15 for i in range(150)], header_fps=15)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match=r"stream's data ends at [\d.]+ s of 10\.00 s declared"):
        detect(cut)


# ----------------------------------------------------------------------------- pixels


def _ramp16() -> np.ndarray:
    # a portrait-like ramp: dark on the left, light on the right, 16 bits
    return np.tile(np.linspace(0, 65535, 200).astype(np.uint16), (100, 1))


def _assert_ramp(rgb: np.ndarray) -> None:
    assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
    assert rgb[:, 0].max() <= 2, "the dark end must stay dark"
    assert rgb[:, -1].min() >= 253, "the light end must be light"
    assert 120 <= int(rgb[50, 100, 0]) <= 135, "the middle is mid-grey, not white"


def test_16_bit_grey_png_and_tiff_are_scaled_not_saturated(tmp_path: Path) -> None:
    png = tmp_path / "g16.png"
    Image.fromarray(_ramp16()).save(png)
    assert Image.open(png).mode == "I;16"
    tif = tmp_path / "g16.tif"
    tifffile.imwrite(tif, _ramp16())
    for path in (png, tif):
        _assert_ramp(load_rgb(path, DecodeLimits()))


def test_16_bit_rgb_and_float_tiffs(tmp_path: Path) -> None:
    ramp = _ramp16()
    rgb16 = tmp_path / "rgb16.tif"
    tifffile.imwrite(rgb16, np.stack([ramp, ramp, ramp], axis=-1), photometric="rgb")
    _assert_ramp(load_rgb(rgb16, DecodeLimits()))
    planar = tmp_path / "f64.tif"
    tifffile.imwrite(
        planar, np.stack([ramp, ramp, ramp]).astype(np.float64) / 65535.0,
        photometric="rgb", planarconfig="separate",
    )  # fmt: skip
    assert detect(planar).media_type is MediaType.IMAGE
    assert probe(planar).width == 200
    _assert_ramp(load_rgb(planar, DecodeLimits()))
    grey_f = tmp_path / "f32.tif"
    tifffile.imwrite(grey_f, ramp.astype(np.float32) / 65535.0)
    _assert_ramp(load_rgb(grey_f, DecodeLimits()))


def test_cmyk_tiff_pillow_cannot_read_goes_through_tifffile(tmp_path: Path) -> None:
    ink = np.zeros((20, 30, 4), dtype=np.uint8)
    ink[:, :, 0] = 255  # full cyan, no black: (0, 255, 255)
    path = tmp_path / "cmyk.tif"
    tifffile.imwrite(path, ink, photometric="separated")
    assert detect(path).media_type is MediaType.IMAGE
    rgb = load_rgb(path, DecodeLimits())
    assert rgb.shape == (20, 30, 3)
    assert tuple(int(v) for v in rgb[10, 10]) == (0, 255, 255)


def test_unusable_tiff_sample_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "complex.tif"
    tifffile.imwrite(path, np.ones((8, 8), dtype=np.complex64))
    with pytest.raises(UnsupportedMedia, match=r"unsupported TIFF sample format: 64-bit"):
        detect(path)


def test_every_pillow_mode_becomes_correct_rgb(tmp_path: Path) -> None:
    ramp8 = np.tile(np.linspace(0, 255, 200).astype(np.uint8), (100, 1))
    inverse = Image.fromarray(255 - ramp8)
    cases = {
        "I.tif": Image.fromarray(_ramp16().astype(np.int32), mode="I"),
        "L.png": Image.fromarray(ramp8),
        "CMYK.jpg": Image.merge("CMYK", [inverse, inverse, inverse, Image.new("L", (200, 100))]),
        "F.tif": Image.fromarray(ramp8.astype(np.float32) * 1000.0, mode="F"),
    }
    for name, image in cases.items():
        path = tmp_path / name
        image.save(path)
        rgb = load_rgb(path, DecodeLimits())
        assert rgb[:, 0].max() <= 12 and rgb[:, -1].min() >= 240, name
    # transparency goes onto white: LA, P with a transparent index
    la = Image.merge("LA", [Image.fromarray(ramp8 * 0), Image.new("L", (200, 100), 0)])
    la.save(tmp_path / "la.png")
    assert load_rgb(tmp_path / "la.png", DecodeLimits()).min() == 255
    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0])
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    assert load_rgb(tmp_path / "p.png", DecodeLimits()).min() == 255


# ----------------------------------------------------------------------------- memory


def test_huge_png_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (4000, 3000), 0).save(path, optimize=True)  # tiny file, 12 MP
    limits = DecodeLimits(max_image_pixels=10_000_000)
    with pytest.raises(UnsupportedMedia, match=r"image too large to decode: 4000x3000 is 12\.0 "
                       r"megapixels, over the 10\.0 allowed \(MEDIAFLOW_MAX_IMAGE_PIXELS\)"):  # fmt: skip
        detect(path, limits)
    assert detect(path).media_type is MediaType.IMAGE  # the default allows 50 MP


def test_huge_jpeg_is_scaled_down_while_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (4000, 3000), (90, 140, 200)).save(path, quality=70)
    limits = DecodeLimits(max_image_pixels=2_000_000)
    assert detect(path, limits).media_type is MediaType.IMAGE
    rgb = load_rgb(path, limits)
    assert rgb.shape[0] * rgb.shape[1] <= 2_000_000
    assert rgb.shape[1] == 1000  # 1/4 scale: the largest DCT scale under the limit
    assert probe(path, limits).width == 4000  # metadata keeps the real size


# ----------------------------------------------------------------------------- animation


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png"])
def test_animated_images_are_short_videos(tmp_path: Path, suffix: str) -> None:
    path = make_animated_image(tmp_path / f"anim{suffix}", frames=24, frame_ms=100)
    info = probe(path)
    assert info.media_type is MediaType.VIDEO
    assert info.duration_s == pytest.approx(2.4, abs=0.01)
    assert info.fps == pytest.approx(10.0)
    assert info.streams[0]["frames"] == 24
    assert not info.has_audio
    sample = sample_frames(path, info.media_type, SamplingPolicy(min_change_gap_s=0.3))
    assert len(sample.shots) == 2  # the colour changes half-way
    assert sample.shots[1].start_s == pytest.approx(1.2, abs=0.01)
    assert sample.frames[-1].end_s == pytest.approx(2.4, abs=0.01)
    assert sample.decoded == 24


def test_still_gif_stays_an_image(tmp_path: Path) -> None:
    path = tmp_path / "still.gif"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(path)
    assert probe(path).media_type is MediaType.IMAGE
