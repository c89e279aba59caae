"""Stands in for Lambda's SQS event source on the local stack: polls an emulator queue."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class QueuePoller:
    """Hands each message body of one queue to `handler`, deleting it once handled.

    A handler that raises leaves the message to come back after its visibility
    timeout, as the SQS event source does.
    """

    def __init__(self, sqs: Any, queue_url: str, handler: Callable[[str], None]) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"poll-{queue_url.rsplit('/', 1)[-1]}")

    def start(self) -> "QueuePoller":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10,
                                                     WaitTimeSeconds=1).get("Messages", [])
            except Exception:  # the emulator is going away at shutdown
                if not self._stopped.is_set():
                    log.exception("polling %s failed", self._queue_url)
                self._stopped.wait(1)
                continue
            for message in messages:
                try:
                    self._handler(message["Body"])
                except Exception:
                    log.exception("handling a message of %s failed", self._queue_url)
                    continue
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
