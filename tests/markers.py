"""Markers shared by test modules: what a test needs from the machine."""

from __future__ import annotations

import shutil

import pytest

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is needed to generate speech"
)
