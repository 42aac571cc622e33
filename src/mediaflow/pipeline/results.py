"""Writing provider outputs: a re-run supersedes the active row, never deletes it."""

from __future__ import annotations

import dataclasses
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import AnalysisProvider, TranscriptionProvider
from mediaflow.db.models import AnalysisResult, Transcription
from mediaflow.providers.base import AnalysisOutput, TranscriptOutput


def _supersede(
    session: Session,
    model: type[AnalysisResult] | type[Transcription],
    *conditions: sa.ColumnElement[bool],
) -> None:
    # deactivate in the same transaction as the insert: the unique partial index
    # (uq_*_active) guarantees a concurrent re-run cannot leave two active rows
    session.execute(
        sa.update(model).where(*conditions, model.is_active.is_(True)).values(is_active=False)
    )


def save_analysis(
    session: Session,
    *,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID,
    provider: AnalysisProvider,
    output: AnalysisOutput,
    latency_ms: int,
) -> AnalysisResult:
    """Deactivate the active result for (file, provider, type) and insert ``output``."""
    _supersede(
        session,
        AnalysisResult,
        AnalysisResult.media_file_id == media_file_id,
        AnalysisResult.provider == provider,
        AnalysisResult.analysis_type == output.analysis_type,
    )
    row = AnalysisResult(
        job_id=job_id,
        media_file_id=media_file_id,
        provider=provider,
        analysis_type=output.analysis_type,
        model=output.model,
        model_version=output.model_version,
        result=output.result,
        confidence=output.confidence,
        latency_ms=latency_ms,
    )
    session.add(row)
    session.flush()
    return row


def save_transcription(
    session: Session,
    *,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID,
    provider: TranscriptionProvider,
    output: TranscriptOutput,
    latency_ms: int,
) -> Transcription:
    """Deactivate the active transcript for (file, provider) and insert ``output``."""
    _supersede(
        session,
        Transcription,
        Transcription.media_file_id == media_file_id,
        Transcription.provider == provider,
    )
    row = Transcription(
        job_id=job_id,
        media_file_id=media_file_id,
        provider=provider,
        model=output.model,
        language=output.language,
        text=output.text,
        segments=[dataclasses.asdict(segment) for segment in output.segments],
        confidence=output.confidence,
        latency_ms=latency_ms,
    )
    session.add(row)
    session.flush()
    return row
