"""What a cloud call costs: billed units times a dated price table.

Every cloud provider reports the units it was billed for (``audio_seconds``,
``images``, ``feature_units``, ``input_tokens``, ``output_tokens``); the pipeline
prices them with this table and stores the cost in the step's processing_log row.

The defaults are the vendors' public list prices for their default model and the
features mediaflow asks for, in USD, as read on ``PRICES_DATE``; they are estimates
(volume tiers, free tiers, regions and taxes are ignored). Override any of them with
``MEDIAFLOW_CLOUD_PRICES`` (JSON, merged over the defaults), e.g.
``{"transcription:deepgram": {"audio_seconds": 0.0001}}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from mediaflow.config import Settings
from mediaflow.providers.base import MediaInput, Provider, Transcriber

__all__ = ["DEFAULT_PRICES", "PRICES_DATE", "cost_of", "estimate_units", "price_table"]

PRICES_DATE = "2026-11-26"

_PER_MINUTE = 1 / 60
_PER_MILLION = 1 / 1_000_000
_PER_THOUSAND = 1 / 1000

# USD per billed unit; key "kind:provider".
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    # speech: per audio second (list price per minute / 60)
    "transcription:openai": {"audio_seconds": 0.006 * _PER_MINUTE},  # whisper-1 $0.006/min
    "transcription:deepgram": {"audio_seconds": 0.0043 * _PER_MINUTE},  # nova pre-recorded
    "transcription:assemblyai": {"audio_seconds": 0.15 / 3600},  # universal $0.15/h
    "transcription:google_speech": {"audio_seconds": 0.016 * _PER_MINUTE},  # v2 standard
    "transcription:aws_transcribe": {"audio_seconds": 0.024 * _PER_MINUTE},  # tier 1
    "transcription:azure_speech": {"audio_seconds": 1.0 / 3600},  # standard $1/h
    # vision chat: per token (gpt-4o-mini $0.15/$0.60, claude haiku 4.5 $1/$5 per 1M)
    "analysis:openai": {"input_tokens": 0.15 * _PER_MILLION, "output_tokens": 0.60 * _PER_MILLION},
    "analysis:anthropic": {"input_tokens": 1.0 * _PER_MILLION, "output_tokens": 5.0 * _PER_MILLION},
    # vision APIs: per feature per image ($1.50 per 1,000 units, Rekognition $1 per 1,000)
    "analysis:google_vision": {"feature_units": 1.5 * _PER_THOUSAND},
    "analysis:aws_rekognition": {"feature_units": 1.0 * _PER_THOUSAND},
    "analysis:azure_vision": {"feature_units": 1.5 * _PER_THOUSAND},
}


def price_table(settings: Settings) -> dict[str, dict[str, float]]:
    """The defaults with ``settings.cloud_prices`` merged over them."""
    table = {key: dict(units) for key, units in DEFAULT_PRICES.items()}
    for key, units in (settings.cloud_prices or {}).items():
        table.setdefault(key, {}).update(units)
    return table


def cost_of(
    settings: Settings, kind: str, provider: str, units: Mapping[str, float]
) -> dict[str, object]:
    """The cost record of one call: its units, their USD estimate, the table's date."""
    prices = price_table(settings).get(f"{kind}:{provider}", {})
    usd = sum(float(amount) * prices.get(unit, 0.0) for unit, amount in units.items())
    return {
        "units": {unit: round(float(amount), 3) for unit, amount in units.items()},
        "usd": round(usd, 6),
        "prices_date": PRICES_DATE if not settings.cloud_prices else f"{PRICES_DATE}+settings",
    }


def estimate_units(provider: Provider, media: MediaInput) -> dict[str, float]:
    """The units a call of ``provider`` on ``media`` would be billed (before it is made).

    Cloud bases know their own (``estimate_units``); any other transcriber is billed
    by audio seconds, any other analyzer by images.
    """
    own = getattr(provider, "estimate_units", None)
    if callable(own):
        return dict(own(media))
    if isinstance(provider, Transcriber):
        if media.audio_path is not None:
            from mediaflow.providers.cloud.split import wav_duration

            try:
                return {"audio_seconds": round(wav_duration(media.audio_path), 3)}
            except Exception:
                pass
        return {"audio_seconds": float(media.duration_s or 0.0)}
    return {"images": float(max(1, len(media.frames)))}
