"""``/media/{id}/speakers``: the speakers diarization found in one file, and renaming them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from mediaflow.api.deps import RuntimeDep
from mediaflow.api.errors import documented_error
from mediaflow.services import speakers as speakers_service
from mediaflow.services.speakers import SpeakerOut

router = APIRouter(prefix="/media", tags=["media"])


class SpeakerList(BaseModel):
    """The file's speakers in order of their first words."""

    items: list[SpeakerOut]


class SpeakerNameIn(BaseModel):
    """A speaker's new name (a name another speaker of the file has merges the two)."""

    name: str = Field(min_length=1, max_length=speakers_service.MAX_NAME)

    model_config = ConfigDict(extra="forbid")


@router.get(
    "/{media_id}/speakers",
    response_model=SpeakerList,
    summary="The speakers of a media file",
    responses={404: documented_error("No such media file")},
)
def list_speakers(media_id: uuid.UUID, runtime: RuntimeDep) -> SpeakerList:
    """Speakers with how many segments and seconds of speech are theirs."""
    return SpeakerList(items=speakers_service.list_speakers(runtime, media_id))


@router.patch(
    "/{media_id}/speakers/{speaker}",
    response_model=SpeakerList,
    summary="Rename a speaker of a media file",
    responses={
        400: documented_error("The body is not JSON"),
        404: documented_error("No such media file or speaker"),
    },
)
def rename_speaker(
    media_id: uuid.UUID,
    body: SpeakerNameIn,
    runtime: RuntimeDep,
    speaker: str = PathParam(max_length=speakers_service.MAX_NAME),
) -> SpeakerList:
    """Rename ``speaker`` in this file's transcript, exports and search."""
    return SpeakerList(items=speakers_service.rename_speaker(runtime, media_id, speaker, body.name))
