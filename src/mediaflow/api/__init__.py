"""The REST API and web page of ``mediaflow serve`` (FastAPI)."""
