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

from pathlib import Path

import av

from mediaflow.media.detect import open_container

__all__ = ["cut"]


def cut(source: Path, dest: Path, from_s: float, to_s: float) -> float:
    """Copy ``source``'s audio and video packets in ``[from_s, to_s)`` into ``dest`` (MKV).

    Returns the original time of the chunk file's start (its first packet). Raises
    what ``open_container`` raises for a file that cannot be read.
    """
    with open_container(source) as inp:
        streams = [*inp.streams.video[:1], *inp.streams.audio[:1]]
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
