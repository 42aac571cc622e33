"""``/people``: people found by their faces; naming, merging, re-clustering, face crops.

A person in a path is its id, an id prefix, or its name (case-insensitive), as on the
command line. The routes translate HTTP to ``services.people`` and back.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from mediaflow.api.deps import RuntimeDep
from mediaflow.api.errors import documented_error
from mediaflow.api.images import CACHE_FOREVER, JPEG_RESPONSE
from mediaflow.services import people as people_service
from mediaflow.services.people import Appearance, PersonDetail, PersonOut

router = APIRouter(prefix="/people", tags=["people"])
# a person by id, id prefix or name, as every person route takes it
PersonRef = Annotated[str, PathParam(max_length=200)]


class PeopleList(BaseModel):
    """People, named first, then by how many faces they have."""

    items: list[PersonOut]


class AppearanceList(BaseModel):
    """Every stretch of every media file in which the person is seen."""

    items: list[Appearance]


class NameIn(BaseModel):
    """A person's new name."""

    name: str = Field(min_length=1, max_length=people_service.MAX_NAME)

    model_config = ConfigDict(extra="forbid")


class MergeIn(BaseModel):
    """The person whose faces move to the person of the path (who keeps their name)."""

    other: str = Field(min_length=1, max_length=200)

    model_config = ConfigDict(extra="forbid")


class ReclusterOut(BaseModel):
    """What a re-cluster did."""

    faces: int
    people: int
    moved: int


@router.get(
    "",
    response_model=PeopleList,
    summary="Every person (or those of one media file)",
    responses={404: documented_error("No such media file")},
)
def list_people(
    runtime: RuntimeDep,
    media_id: uuid.UUID | None = Query(default=None, description="Only people seen in this file"),
    named: bool = Query(default=False, description="Only people with a name"),
) -> PeopleList:
    """People with their face and file counts and a cover face for a thumbnail."""
    if media_id is not None:
        return PeopleList(items=people_service.people_in_media(runtime, media_id))
    return PeopleList(items=people_service.list_people(runtime, named_only=named))


@router.post("/recluster", response_model=ReclusterOut, summary="Group every face again")
def recluster(runtime: RuntimeDep) -> ReclusterOut:
    """Re-cluster the faces of the whole library; names are kept."""
    return ReclusterOut(**people_service.recluster(runtime))


@router.get(
    "/faces/{face_id}/crop",
    summary="The crop of one face (JPEG)",
    response_class=FileResponse,
    responses={
        200: JPEG_RESPONSE,
        404: documented_error("No such face, or no crop of it"),
    },
)
def face_crop(runtime: RuntimeDep, face_id: int = PathParam(ge=1, le=2**63 - 1)) -> FileResponse:
    """Content-addressed: it never changes, so clients may cache it for good."""
    return FileResponse(
        people_service.face_crop(runtime, face_id),
        media_type="image/jpeg",
        headers=CACHE_FOREVER,
    )


@router.get(
    "/{person}",
    response_model=PersonDetail,
    summary="One person: faces and appearances",
    responses={404: documented_error("No such person")},
)
def get_person(runtime: RuntimeDep, person: PersonRef) -> PersonDetail:
    """A person with their best faces and every moment they appear."""
    return people_service.get_person(runtime, person)


@router.get(
    "/{person}/appearances",
    response_model=AppearanceList,
    summary="Every moment a person appears",
    responses={404: documented_error("No such person")},
)
def get_appearances(runtime: RuntimeDep, person: PersonRef) -> AppearanceList:
    """Search by person: file by file, the stretches in which their face is seen."""
    return AppearanceList(items=people_service.appearances(runtime, person))


@router.patch(
    "/{person}",
    response_model=PersonOut,
    summary="Name a person",
    responses={
        400: documented_error("The body is not JSON"),
        404: documented_error("No such person"),
        409: documented_error("Another person has that name"),
    },
)
def name_person(body: NameIn, runtime: RuntimeDep, person: PersonRef) -> PersonOut:
    """Give a person a (new) name; a name another person has is refused (merge them)."""
    return people_service.rename(runtime, person, body.name)


@router.post(
    "/{person}/merge",
    response_model=PersonOut,
    summary="Merge another person into this one",
    responses={
        400: documented_error("The body is not JSON"),
        404: documented_error("No such person"),
    },
)
def merge_people(body: MergeIn, runtime: RuntimeDep, person: PersonRef) -> PersonOut:
    """The other person's faces become this person's; the other person is removed."""
    return people_service.merge(runtime, person, body.other)
