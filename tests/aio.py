"""Run a coroutine to its end from a synchronous test, on a thread of its own.

``asyncio.run`` refuses to start when the calling thread has a running event loop
set. A test process holds many things (procrastinate, uvicorn, Hypothesis, PyAV
callbacks) and one of them once left that mark on the main thread of a CI worker:
two later tests failed for no fault of theirs. A fresh thread has no such mark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``aio.run(coroutine)`` on a new thread; its result or its exception."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()
