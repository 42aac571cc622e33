"""Audio for the speech and audio providers: one 16 kHz mono 16-bit PCM WAV per file.

Every speech engine mediaflow talks to accepts 16 kHz mono PCM, so the pipeline
converts once here and hands the same WAV to each provider.
"""

from __future__ import annotations

import logging
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

from mediaflow.errors import InvalidInput
from mediaflow.media.damage import StreamDamage
from mediaflow.media.detect import ffmpeg_reason, open_container
from mediaflow.media.limits import DecodeLimits

__all__ = ["TARGET_SAMPLE_RATE", "AudioTrack", "decode_audio", "extract_audio", "load_wav"]

log = logging.getLogger(__name__)

TARGET_SAMPLE_RATE = 16_000

# Leading silence longer than this is not padded: such an offset is more likely a
# broken timestamp than an audio track that really starts that late.
_MAX_LEAD_PAD_S = 60.0


@dataclass(frozen=True)
class AudioTrack:
    """The 16 kHz mono WAV of a file and the damage met while decoding it."""

    path: Path
    damage: StreamDamage


def extract_audio(path: str | os.PathLike[str], dest_wav: str | os.PathLike[str]) -> Path | None:
    """``decode_audio(...).path``: the WAV, or None when the file has no audio stream."""
    track = decode_audio(path, dest_wav)
    return track.path if track is not None else None


def decode_audio(
    path: str | os.PathLike[str],
    dest_wav: str | os.PathLike[str],
    limits: DecodeLimits | None = None,
) -> AudioTrack | None:
    """Decode the first audio stream of ``path`` into ``dest_wav`` (16 kHz mono s16 WAV).

    Returns the WAV with the damage found, or None when the file has no audio stream.
    When the audio starts after the container's start (audio joined late), silence
    is padded in front, so that times in the WAV are times in the video. Packets
    that fail to decode are skipped and counted; a stream with nothing decodable, or
    more undecodable than ``limits.max_undecodable_fraction``, raises
    ``InvalidInput``. The WAV is written to a temporary name and renamed at the end,
    so ``dest_wav`` never holds a partial file.
    """
    limits = limits or DecodeLimits()
    dest = Path(dest_wav)
    with open_container(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        damage = StreamDamage("audio", _codec(stream), stream.index)
        container_start = container.start_time / 1_000_000 if container.start_time else 0.0
        # The resampler converts any layout/rate/format and buffers across frames.
        resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_SAMPLE_RATE)

        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        samples_written = 0
        got_audio = False
        try:
            with wave.open(str(partial), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(TARGET_SAMPLE_RATE)
                for packet in container.demux(stream):
                    if packet.size:
                        damage.packet()
                    try:
                        frames = stream.decode(packet)
                    except av.error.FFmpegError as exc:
                        damage.bad(_packet_time(packet, container_start), ffmpeg_reason(exc))
                        log.debug("skipping undecodable audio packet: %s", ffmpeg_reason(exc))
                        continue
                    for frame in frames:
                        if not got_audio:
                            got_audio = True
                            samples_written += _pad_lead(wav, frame, container_start)
                        for out in resampler.resample(frame):
                            samples_written += _write(wav, out)
                for out in resampler.resample(None):
                    samples_written += _write(wav, out)
            if not got_audio:
                raise InvalidInput(
                    f"truncated or corrupt audio: nothing decodable in the "
                    f"{stream.codec.canonical_name} stream"
                )
            damage.check(limits.max_undecodable_fraction)
            partial.replace(dest)
        finally:
            partial.unlink(missing_ok=True)

    if damage.damaged:
        log.warning("%s: %s", Path(path).name, damage.summary())
    log.debug("%s: wrote %d samples to %s", Path(path).name, samples_written, dest)
    return AudioTrack(dest, damage)


def _codec(stream: av.AudioStream) -> str:
    try:
        return str(stream.codec.canonical_name)
    except (AttributeError, av.error.FFmpegError):
        return "unknown"


def _packet_time(packet: av.Packet[Any], start: float) -> float | None:
    if packet.pts is None or packet.time_base is None:
        return None
    return max(0.0, float(packet.pts * packet.time_base) - start)


def _pad_lead(wav: wave.Wave_write, first: av.AudioFrame, container_start: float) -> int:
    """Write silence for the gap between the container start and the first audio frame."""
    if first.time is None:
        return 0
    gap = first.time - container_start
    if gap <= 0 or gap > _MAX_LEAD_PAD_S:
        return 0
    count = round(gap * TARGET_SAMPLE_RATE)
    wav.writeframes(bytes(2 * count))
    return count


def _write(wav: wave.Wave_write, frame: av.AudioFrame) -> int:
    # Packed s16 mono comes out as shape (1, samples); WAV wants little-endian.
    data = frame.to_ndarray().astype("<i2", copy=False)
    wav.writeframes(data.tobytes())
    return int(data.shape[-1])


def load_wav(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.float32], int]:
    """Read a WAV file as mono float32 samples in [-1, 1] and its sample rate.

    Multi-channel audio is averaged to mono. 8/16/24/32-bit PCM is read with the
    ``wave`` module; anything else (float or extensible WAV) is decoded with PyAV.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such file: {path.name}") from exc
    except (wave.Error, EOFError):
        return _load_with_av(path)

    samples = _pcm_to_float(raw, width)
    if channels > 1:
        samples = samples[: len(samples) - len(samples) % channels]
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples.astype(np.float32, copy=False), rate


def _pcm_to_float(raw: bytes, width: int) -> npt.NDArray[np.float32]:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        # Sign-extend 24-bit little-endian samples into int32.
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3)
        ints = b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
        ints |= b[:, 2].astype(np.int8).astype(np.int32) << 16
        return ints.astype(np.float32) / 8_388_608.0
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2_147_483_648.0).astype(
            np.float32
        )
    raise InvalidInput(f"unsupported WAV sample width: {width} bytes")


def _load_with_av(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    with open_container(path) as container:
        if not container.streams.audio:
            raise InvalidInput(f"no audio stream in {path.name}")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        # Planar float: one row per channel, whatever the source sample format.
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        chunks: list[npt.NDArray[np.float32]] = []
        try:
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray()[0] for f in resampler.resample(None))
        except av.error.FFmpegError as exc:
            raise InvalidInput(f"cannot decode {path.name}: {ffmpeg_reason(exc)}") from exc
    if not chunks:
        return np.zeros(0, dtype=np.float32), rate
    return np.concatenate(chunks).astype(np.float32, copy=False), rate
