"""S3 triggers on the local stack: emulator S3 notifications -> an emulator SQS queue -> a poller.

The poller (local.queues) plays the part of Lambda's SQS event source: each message
goes, in Lambda's event shape, to the app's SQS handler (the very function the
triggers Lambda runs); a message whose handler raised comes back after the
visibility timeout and, after MAX_RECEIVES tries, moves to a dead-letter queue, as on AWS.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.triggers import Trigger
from local.queues import QueuePoller, SqsHandler, queue_arn

QUEUE = "mps-thumbnail-local-uploads"
DEAD_LETTERS = "mps-thumbnail-local-uploads-dead-letters"
VISIBILITY_SECONDS = 2
MAX_RECEIVES = 5


def _ensure_bucket(s3: Any, name: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        s3.create_bucket(Bucket=name)


def wire_buckets(s3: Any, sqs: Any, triggers: tuple[Trigger, ...]) -> str:
    """Creates missing watched and target buckets, the queue, and each watched bucket's notification.

    Returns the queue's URL.
    """
    dead_arn = queue_arn(sqs, sqs.create_queue(QueueName=DEAD_LETTERS)["QueueUrl"])
    url = sqs.create_queue(QueueName=QUEUE, Attributes={
        "VisibilityTimeout": str(VISIBILITY_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": MAX_RECEIVES}),
    })["QueueUrl"]
    arn = queue_arn(sqs, url)
    for bucket in sorted({t.bucket for t in triggers} | {t.target["destBucket"] for t in triggers}):
        _ensure_bucket(s3, bucket)
    for bucket in sorted({t.bucket for t in triggers}):
        # Everything created in the bucket is sent; the handler matches prefixes and suffixes.
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return url


class TriggerFeed:
    """Wraps the app's SQS handler `handler(event, context)` and keeps the outcomes it returns (for tests)."""

    def __init__(self, handler: SqsHandler) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self._outcomes: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        result = self._handler(event, context)
        with self._lock:
            self._outcomes.extend(result or [])

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._outcomes)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """The first outcome matching `predicate`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            for outcome in self.outcomes:
                if predicate(outcome):
                    return outcome
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching trigger outcome within {timeout} s; seen {self.outcomes}")
            time.sleep(0.05)


def start_triggers(s3: Any, sqs: Any, triggers: tuple[Trigger, ...], region: str,
                   handler: SqsHandler) -> tuple[TriggerFeed, QueuePoller]:
    """Wires the watched buckets to a queue and starts polling it into `handler`."""
    url = wire_buckets(s3, sqs, triggers)
    feed = TriggerFeed(handler)
    return feed, QueuePoller(sqs, url, feed, region).start()
