"""Loudness as recorded (issue 10 item 4): EBU R128 on the original channels and rate,
with BS.1770 channel weights, checked against calibrated tones and pyloudnorm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.media.audio import extract_audio
from mediaflow.media.loudness import measure_loudness, meter_version
from mediaflow.providers.analysis.audio_features import AudioFeaturesProvider
from mediaflow.providers.base import MediaInput
from tests.realworld_media import make_tone, sine

RATE = 48_000


def test_a_minus_20_dbfs_1khz_sine_on_one_channel_reads_minus_23_lufs(tmp_path: Path) -> None:
    # BS.1770: a 0 dBFS 1 kHz sine on one channel reads -3.01 LKFS
    tone = sine(5.0, RATE, dbfs=-20.0)
    for layout, channels in (
        ("mono", np.stack([tone])),
        ("stereo", np.stack([tone, np.zeros_like(tone)])),
    ):
        path = make_tone(tmp_path / f"{layout}.flac", channels, RATE, layout)
        loud = measure_loudness(path)
        assert loud is not None
        assert loud.integrated_lufs == pytest.approx(-23.01, abs=0.05), layout
        assert loud.true_peak_dbtp == pytest.approx(-20.0, abs=0.1)
        assert loud.sample_rate == RATE and not loud.too_short


def test_surround_channels_weigh_1_5_db_more_and_lfe_not_at_all(tmp_path: Path) -> None:
    tone = sine(5.0, RATE, dbfs=-20.0)
    silent = np.zeros_like(tone)
    # 5.1: FL FR FC LFE BL BR
    front = make_tone(
        tmp_path / "front.flac", np.stack([tone, silent, silent, silent, silent, silent]),
        RATE, "5.1",
    )  # fmt: skip
    back = make_tone(
        tmp_path / "back.flac", np.stack([silent, silent, silent, silent, tone, silent]),
        RATE, "5.1",
    )  # fmt: skip
    lfe = make_tone(
        tmp_path / "lfe.flac", np.stack([silent, silent, silent, tone * 3, silent, silent]),
        RATE, "5.1",
    )  # fmt: skip
    front_l, back_l, lfe_l = (measure_loudness(p) for p in (front, back, lfe))
    assert front_l is not None and back_l is not None and lfe_l is not None
    assert front_l.channels == 6 and front_l.layout == "5.1"
    assert back_l.integrated_lufs - front_l.integrated_lufs == pytest.approx(1.5, abs=0.05)
    assert lfe_l.integrated_lufs is None  # nothing but LFE: all gated out
    assert lfe_l.silences, "the LFE channel does not count for silence either"


def test_5_1_reads_louder_than_its_16khz_mono_downmix(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    music = [sine(6.0, RATE, freq=f, dbfs=-26.0) for f in (220, 330, 440, 550, 60, 660)]
    channels = np.stack(music) * (1 + 0.1 * rng.standard_normal((6, 1))).astype(np.float32)
    path = make_tone(tmp_path / "surround.flac", channels.astype(np.float32), RATE, "5.1")
    loud = measure_loudness(path)
    assert loud is not None and loud.integrated_lufs is not None
    # pyloudnorm on the original channels, with the same weights (LFE dropped)
    weighted = channels[[0, 1, 2, 4, 5]].T.astype(np.float64)
    meter = pyloudnorm.Meter(RATE)
    meter._G = [1.0, 1.0, 1.0, 1.41, 1.41]  # BS.1770 weights of L R C Ls Rs
    expected = meter.integrated_loudness(weighted)
    assert loud.integrated_lufs == pytest.approx(expected, abs=0.3)
    # the old way: the 16 kHz mono downmix reads several dB quieter
    wav = extract_audio(path, tmp_path / "mono.wav")
    assert wav is not None
    from mediaflow.media.audio import load_wav

    mono, rate = load_wav(wav)
    downmix = pyloudnorm.Meter(rate).integrated_loudness(mono.astype(np.float64))
    assert loud.integrated_lufs - downmix > 3.0


def test_the_provider_reports_too_short_and_the_meter_version(tmp_path: Path) -> None:
    path = make_tone(tmp_path / "bell.wav", np.stack([sine(0.2, RATE)]), RATE, "mono")
    wav = extract_audio(path, tmp_path / "bell16k.wav")
    provider = AudioFeaturesProvider(Settings(database_url="postgresql://x@127.0.0.1:1/x"))
    (out,) = provider.analyze(
        MediaInput(path=path, media_type=MediaType.AUDIO, audio_path=wav, name="bell.wav")
    )
    assert out.result["integrated_lufs"] is None
    assert out.result["loudness_too_short"] is True
    assert out.result["measured_on"]["sample_rate"] == RATE
    assert out.model_version == meter_version()
    assert out.model_version.startswith("pyebur128 0.") and "unknown" not in out.model_version


def test_quiet_surround_is_not_silence(tmp_path: Path) -> None:
    # opposite-phase left/right cancel in a mono downmix: silence there, sound here
    tone = sine(3.0, RATE, dbfs=-20.0)
    path = make_tone(tmp_path / "phase.flac", np.stack([tone, -tone]), RATE, "stereo")
    loud = measure_loudness(path)
    assert loud is not None and loud.silences == []
    wav = extract_audio(path, tmp_path / "mono.wav")
    assert wav is not None
    provider = AudioFeaturesProvider(Settings(database_url="postgresql://x@127.0.0.1:1/x"))
    (out,) = provider.analyze(MediaInput(path=path, media_type=MediaType.AUDIO, audio_path=wav))
    assert out.result["silences"] == [] and out.result["silence_ratio"] == 0.0
