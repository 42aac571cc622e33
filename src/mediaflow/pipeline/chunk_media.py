"""One chunk of a long file as a small file of its own: packets copied, nothing re-encoded.

``cut`` copies the packets of the first video and first audio stream between two
times into a Matroska file, keeping their original timestamps, so the existing
extractors (``extract_audio``, ``sample_frames``) work on the chunk unchanged. The
copy starts at the key frame at or before ``from_s`` (a video cannot start
elsewhere without re-encoding); times inside the chunk file count from its first
packet, which ``cut`` returns, so that a time in the chunk plus that offset is a time
in the original.
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import av.error
import numpy as np

from mediaflow.media.audio import _MAX_LEAD_PAD_S, TARGET_SAMPLE_RATE
from mediaflow.media.detect import open_container

__all__ = ["cut", "extract_audio_range"]


def cut(source: Path, dest: Path, from_s: float, to_s: float, *, audio: bool = True) -> float:
    """Copy ``source``'s audio and video packets in ``[from_s, to_s)`` into ``dest`` (MKV).

    ``audio=False``: the video alone (the chunk's audio comes from
    ``extract_audio_range``, sample-exact).

    Returns the original time of the chunk file's start (its first packet). Raises
    what ``open_container`` raises for a file that cannot be read.
    """
    with open_container(source) as inp:
        streams = [*inp.streams.video[:1], *(inp.streams.audio[:1] if audio else [])]
        if not streams:
            raise ValueError(f"{source.name} has neither audio nor video to cut")
        start = inp.start_time / 1_000_000 if inp.start_time else 0.0
        if from_s > 0:
            # container-level seek (microseconds): lands on a key frame at or before it
            inp.seek(int((start + from_s) * 1_000_000), backward=True)
        with av.open(str(dest), "w", format="matroska") as out:
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            video_started = not inp.streams.video
            finished: set[int] = set()  # streams whose packets passed the end
            for packet in inp.demux(streams):
                if packet.dts is None and packet.pts is None:
                    continue  # the demuxer's flush packets
                stamp = packet.pts if packet.pts is not None else packet.dts
                assert stamp is not None and packet.time_base is not None
                t = float(stamp * packet.time_base) - start
                if packet.stream.type == "video":
                    if not video_started and not packet.is_keyframe:
                        continue  # nothing decodes before the first key frame
                    video_started = True
                elif t < from_s - 0.05:
                    continue  # audio before the wanted start (the seek's slack)
                if t >= to_s:
                    finished.add(packet.stream.index)
                    if len(finished) == len(mapping):
                        break
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    with open_container(dest) as chunk:
        return (chunk.start_time / 1_000_000 if chunk.start_time else 0.0) - start


def extract_audio_range(source: Path, dest_wav: Path, from_s: float, to_s: float) -> Path | None:
    """The 16 kHz mono WAV of ``source``'s audio in ``[from_s, to_s)``, sample-exact.

    Equal to the same span of the whole file's ``extract_audio`` WAV, so that a chunk's
    transcription hears exactly what the whole file's would. That takes decoding from
    the start: after a seek, an AAC decoder's noise substitution (a random generator
    carried from frame to frame) and a resampler's phase both differ, and tiny.en
    then hears a few words differently (2% WER against the whole file on a 2-minute
    talk, measured). Decoding is cheap next to the models (an hour of AAC: ~3 s);
    only the samples in the span are converted and kept. Copying the packets instead
    would also lose AAC's priming offset (MP4 keeps it in an edit list) and shift the
    chunk by tens of milliseconds. None: no audio stream.
    """
    rate = TARGET_SAMPLE_RATE
    first, last = round(from_s * rate), round(to_s * rate)
    samples = np.zeros(max(0, last - first), dtype="<i2")
    with open_container(source) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        start = container.start_time / 1_000_000 if container.start_time else 0.0
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        position: int | None = None  # whole-file sample index of the next resampled sample

        def place(frames: list[av.AudioFrame]) -> None:
            nonlocal position
            for out in frames:
                assert position is not None
                count = out.samples
                lo, hi = max(position, first), min(position + count, last)
                if lo < hi:  # only the span is converted
                    data = out.to_ndarray().reshape(-1)
                    samples[lo - first : hi - first] = data[lo - position : hi - position]
                position += count

        for packet in container.demux(stream):
            try:
                decoded = stream.decode(packet)
            except av.error.FFmpegError:
                continue  # a damaged packet is skipped, as extract_audio does
            for frame in decoded:
                if position is None:
                    position = _lead(frame, start, rate)
                place(resampler.resample(frame))
            if position is not None and position >= last:
                break
        else:
            if position is not None:
                place(resampler.resample(None))
    dest_wav.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(dest_wav), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return dest_wav


def _lead(first: av.AudioFrame, container_start: float, rate: int) -> int:
    """Where the first audio sample lies, as ``extract_audio`` pads it (its ``_pad_lead``)."""
    if first.time is None:
        return 0
    gap = first.time - container_start
    return round(gap * rate) if 0 < gap <= _MAX_LEAD_PAD_S else 0
