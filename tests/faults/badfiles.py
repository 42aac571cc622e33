"""Malformed, truncated and mislabelled media for the bad-file campaign.

Built from a few good seeds (a PNG, a WAV, an MP4) by deterministic damage: cut at a
random point, bits flipped, the wrong extension, zero bytes, a huge header claim,
a decompression bomb (a tiny PNG that claims 20000 x 20000 pixels). One ``seed``
gives the same files every run.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests import media_factory as mf

KINDS = ("cut", "bitflip", "wrong_ext", "zero", "huge_header", "png_bomb", "random")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, side: int = 20000) -> Path:
    """A valid PNG of ``side`` x ``side`` grey pixels that compresses to a few hundred KB."""
    raw_row = b"\x00" + b"\x00" * side  # filter byte + one grey byte per pixel
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )  # fmt: skip
    return path


def _seeds(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    png = mf.make_text_image(folder / "seed.png", "SEED")
    wav = mf.make_speech_audio(folder / "seed.wav")
    mp4 = mf.make_truncated_video(folder / "seed.mp4", keep=1.0, faststart=True)
    return {".png": png.read_bytes(), ".wav": wav.read_bytes(), ".mp4": mp4.read_bytes()}


def make_bad_files(folder: Path, count: int, seed: int = 9) -> list[Path]:
    """``count`` damaged files in ``folder`` (kinds in turn), returned in order."""
    rng = np.random.default_rng(seed)
    seeds = _seeds(folder / "seeds")
    exts = sorted(seeds)
    bomb: bytes | None = None
    made: list[Path] = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        ext = exts[int(rng.integers(len(exts)))]
        data = seeds[ext]
        path = folder / f"{i:04d}_{kind}{ext}"
        if kind == "cut":
            out = data[: int(rng.integers(1, max(2, len(data) - 1)))]
        elif kind == "bitflip":
            buf = bytearray(data)
            for pos in rng.integers(0, len(buf), size=max(1, len(buf) // 200)):
                buf[int(pos)] ^= 1 << int(rng.integers(8))
            out = bytes(buf)
        elif kind == "wrong_ext":
            other = exts[(exts.index(ext) + 1) % len(exts)]
            out, path = data, folder / f"{i:04d}_{kind}{ext}{other}"
        elif kind == "zero":
            out = b""
        elif kind == "huge_header":
            # a WAV/MP4/PNG whose first length field claims gigabytes
            buf = bytearray(data)
            buf[4:8] = b"\xff\xff\xff\x7f"
            out = bytes(buf)
        elif kind == "png_bomb":
            if bomb is None:
                bomb = png_bomb(folder / "bomb.tmp").read_bytes()
                (folder / "bomb.tmp").unlink()
            out, path = bomb, folder / f"{i:04d}_{kind}.png"
        else:
            out = rng.bytes(int(rng.integers(1, 64 * 1024)))
        path.write_bytes(out)
        made.append(path)
    return made


MAKERS: dict[str, Callable[[Path, int], list[Path]]] = {"bad": make_bad_files}
