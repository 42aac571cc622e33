"""The app of one HTTP process among several (``mediaflow serve --http-workers N``).

uvicorn starts each HTTP process itself and builds its app from an import string,
so what ``mediaflow serve`` decided (keys required or not) travels in the
environment. Each process has its own runtime (engine, pools) on the same
database; none of them runs queue work: ``mediaflow serve`` starts one
``mediaflow worker`` process beside them for that.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from mediaflow.api.app import create_app
from mediaflow.config import get_settings
from mediaflow.runtime import Runtime

__all__ = ["OPTIONS_ENV", "app_from_environment", "options_for_environment"]

# Not MEDIAFLOW_*: it is no setting, only the parent's word to its HTTP processes.
OPTIONS_ENV = "_MEDIAFLOW_HTTP_PROCESS"
FACTORY = f"{__name__}:app_from_environment"


def options_for_environment(*, require_key: bool) -> str:
    """The value of ``OPTIONS_ENV`` that ``app_from_environment`` reads back."""
    return json.dumps({"require_key": require_key})


def app_from_environment() -> FastAPI:
    """The app of this HTTP process: settings from MEDIAFLOW_*, options from OPTIONS_ENV."""
    options = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    return create_app(
        Runtime(get_settings()),
        require_key=bool(options.get("require_key", True)),
        worker_concurrency=0,
    )
