"""Hands a recorded task to a worker: a Lambda async invoke on AWS, a thread pool locally."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

log = logging.getLogger(__name__)


class DispatchFailed(Exception):
    """The task could not be handed to a worker; it must not stay recorded."""


class Dispatcher(Protocol):
    def dispatch(self, task_id: str) -> None: ...


def worker_event(task_id: str) -> dict[str, str]:
    """The event the worker handler receives, whoever invokes it."""
    return {"taskID": task_id}


class LambdaDispatcher:
    """Invokes the worker function with InvocationType Event: the API returns at once."""

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._client = lambda_client
        self._function = function_name

    def dispatch(self, task_id: str) -> None:
        try:
            response = self._client.invoke(FunctionName=self._function, InvocationType="Event",
                                           Payload=json.dumps(worker_event(task_id)).encode())
        except Exception as exc:  # any client or network failure means the task never runs
            raise DispatchFailed(str(exc)) from exc
        if response.get("StatusCode") != 202:
            raise DispatchFailed(f"invoke answered {response.get('StatusCode')}")


class LocalDispatcher:
    """Runs the same worker handler in this process, on a small pool (the local stack)."""

    def __init__(self, handler: Callable[[dict[str, str]], Any], workers: int) -> None:
        self._handler = handler
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="worker")

    def dispatch(self, task_id: str) -> None:
        self._pool.submit(self._handler, worker_event(task_id)).add_done_callback(_log_crash)


def _log_crash(future: Future[Any]) -> None:
    if future.exception() is not None:
        log.error("worker crashed", exc_info=future.exception())
