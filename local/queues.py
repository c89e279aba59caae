"""Stands in for Lambda's SQS event source on the local stack: polls an emulator queue."""
from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


SqsHandler = Callable[[dict[str, Any], Any], Any]


def queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def lambda_event(body: str, queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message body in the shape Lambda hands it to a function."""
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "local", "body": body, "attributes": {},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": region,
    }]}


class QueuePoller:
    """Hands each message of one queue, as a Lambda SQS event, to the app's handler `handler(event, context)`.

    A message is deleted once handled; one whose handler raises comes back after its
    visibility timeout, as with the SQS event source.
    """

    def __init__(self, sqs: Any, queue_url: str, handler: SqsHandler, region: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn(sqs, queue_url)
        self._handler = handler
        self._region = region
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
                    self._handler(lambda_event(message["Body"], self._queue_arn, self._region), None)
                except Exception:
                    log.exception("handling a message of %s failed", self._queue_url)
                    continue
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
