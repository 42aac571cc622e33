"""Peak memory of reading one huge image: Pillow's plain path against mediaflow's bounded one.

    python bench/image_memory.py [--side 13000]

Each case runs in a fresh subprocess and reports its peak RSS (``ru_maxrss``):

- ``pillow load + RGB``: what mediaflow did before (``Image.open().load()`` in detect,
  ``convert("RGB")`` for the frames) on a ``side`` x ``side`` PNG of a few hundred KB;
- ``mediaflow detect`` on the same PNG: refused before decoding (over
  ``MEDIAFLOW_MAX_IMAGE_PIXELS``, 50 MP by default);
- ``pillow JPEG load`` / ``mediaflow JPEG`` on a JPEG of the same size: mediaflow
  decodes it scaled down by the DCT (``draft``) to fit the limit.

The ratio is mediaflow's peak divided by Pillow's. Numbers: bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import resource, sys
sys.path[:0] = ["src"]
path, how = sys.argv[1], sys.argv[2]
if how == "pillow":
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(path) as im:
        im.load()
        rgb = im.convert("RGB")
else:
    from mediaflow.errors import MediaflowError
    from mediaflow.media.detect import detect
    from mediaflow.media.images import load_rgb
    from mediaflow.media.limits import DecodeLimits
    try:
        detect(path)
        load_rgb(path, DecodeLimits(), max_side=1920)
    except MediaflowError as exc:
        print("refused:", exc, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


_MAKE = """
import sys
from PIL import Image
png, jpeg, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
picture = Image.new("L", (side, side), 40)
picture.save(png, optimize=True)
picture.convert("RGB").save(jpeg, quality=60)
"""


def _peak_mib(path: Path, how: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), how],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    """Print a table of peak RSS per case and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=13000, help="image width and height")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "huge.png"
        jpeg = Path(tmp) / "huge.jpg"
        # made in a child: a child's peak RSS starts at its parent's (fork), so the
        # parent itself must never hold a big picture
        subprocess.run(
            [sys.executable, "-c", _MAKE, str(png), str(jpeg), str(args.side)], check=True
        )
        rows = [
            ("PNG", png.stat().st_size, _peak_mib(png, "pillow"), _peak_mib(png, "mediaflow")),
            ("JPEG", jpeg.stat().st_size, _peak_mib(jpeg, "pillow"), _peak_mib(jpeg, "mediaflow")),
        ]
    print(f"{args.side}x{args.side} image, peak RSS of one process (MiB)")
    print(f"{'file':<6}{'bytes':>12}{'pillow':>10}{'mediaflow':>11}{'ratio':>8}")
    for name, size, pillow, ours in rows:
        print(f"{name:<6}{size:>12,}{pillow:>10.0f}{ours:>11.0f}{ours / pillow:>8.2f}x")


if __name__ == "__main__":
    main()
