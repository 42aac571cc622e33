"""The task queue and the worker loop on procrastinate's own in-memory connector.

What is ours here: the task's name, queue and arguments, one queued task per file
(queueing lock), cancelling by file, the translation of procrastinate's
``AlreadyEnqueued``, and the worker handing each task to its runtime's processor.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from procrastinate.testing import InMemoryConnector

from mediaflow.config import Settings
from mediaflow.db.session import Database
from mediaflow.errors import Refused
from mediaflow.pipeline.worker import run_worker
from mediaflow.queue import MEDIA_QUEUE, PROCESS_FILE_TASK, TaskQueue, file_lock
from mediaflow.runtime import Runtime
from tests import aio

NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"  # never reached in these tests


@pytest.fixture
def connector() -> InMemoryConnector:
    return InMemoryConnector()


@pytest.fixture
def queue(connector: InMemoryConnector) -> TaskQueue:
    return TaskQueue(Database(NO_DATABASE), connector=connector)


def test_one_task_per_file_with_its_lock(queue: TaskQueue, connector: InMemoryConnector) -> None:
    files = [uuid.uuid4(), uuid.uuid4()]
    assert queue.defer_files(files, providers=["rapidocr"]) == 2

    jobs = sorted(connector.jobs.values(), key=lambda j: j["id"])
    assert [(j["task_name"], j["queue_name"], j["status"]) for j in jobs] == [
        (PROCESS_FILE_TASK, MEDIA_QUEUE, "todo")
    ] * 2
    assert [j["queueing_lock"] for j in jobs] == [file_lock(f) for f in files]
    assert [j["args"] for j in jobs] == [
        {"media_file_id": str(f), "providers": ["rapidocr"]} for f in files
    ]


def test_a_file_already_queued_is_refused(queue: TaskQueue) -> None:
    file_id = uuid.uuid4()
    queue.defer_files([file_id])
    with pytest.raises(Refused, match=f"media file {file_id} is already queued"):
        queue.defer_files([file_id])


def test_a_queued_file_among_many_refuses_only_itself(
    queue: TaskQueue, connector: InMemoryConnector
) -> None:
    waiting = uuid.uuid4()
    queue.defer_files([waiting])
    others = [uuid.uuid4() for _ in range(3)]
    # the batch (one statement) fails on the queued file; the others still go in
    with pytest.raises(Refused, match=f"media file {waiting} is already queued"):
        queue.defer_files([others[0], waiting, *others[1:]])
    queued = sorted(j["args"]["media_file_id"] for j in connector.jobs.values())
    assert queued == sorted(str(f) for f in [waiting, *others])


def test_many_files_go_in_batches(
    queue: TaskQueue, connector: InMemoryConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mediaflow.queue.DEFER_BATCH", 2)
    files = [uuid.uuid4() for _ in range(5)]
    assert queue.defer_files(files) == 5
    # each batch is one INSERT; ids follow the order given
    jobs = sorted(connector.jobs.values(), key=lambda j: j["id"])
    assert [j["args"]["media_file_id"] for j in jobs] == [str(f) for f in files]
    assert [name for name, _ in connector.queries] == ["defer_jobs"] * 3


def test_cancel_drops_only_the_named_files(queue: TaskQueue, connector: InMemoryConnector) -> None:
    keep, drop = uuid.uuid4(), uuid.uuid4()
    queue.defer_files([keep, drop])
    assert queue.cancel_queued([drop, uuid.uuid4()]) == 1
    statuses = {j["args"]["media_file_id"]: j["status"] for j in connector.jobs.values()}
    assert statuses == {str(keep): "todo", str(drop): "cancelled"}
    # a cancelled file can be queued again
    assert queue.defer_files([drop]) == 1


def test_the_worker_hands_each_task_to_its_runtime(
    queue: TaskQueue, connector: InMemoryConnector, tmp_path: Path
) -> None:
    runtime = Runtime(Settings(database_url=NO_DATABASE, data_dir=tmp_path), queue=queue)
    first, second = uuid.uuid4(), uuid.uuid4()
    queue.defer_files([first])
    queue.defer_files([second], providers=["scenedetect"])
    seen: list[tuple[Runtime, uuid.UUID, list[str] | None]] = []

    def processor(rt: Runtime, media_file_id: uuid.UUID, providers: list[str] | None) -> str:
        seen.append((rt, media_file_id, providers))
        return "completed"

    aio.run(
        run_worker(
            runtime, 1, wait=False, install_signal_handlers=False,
            connector=connector, processor=processor,
        )
    )  # fmt: skip

    assert seen == [(runtime, first, None), (runtime, second, ["scenedetect"])]
    assert {j["status"] for j in connector.jobs.values()} == {"succeeded"}
