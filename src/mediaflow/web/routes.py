"""Placeholder: filled in by the web page work."""

from fastapi import APIRouter

router = APIRouter()
