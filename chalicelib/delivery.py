"""Moves finished tasks through the durable notification queue to their region's endpoint."""
from __future__ import annotations

import json
import logging
import math
from typing import Any

from chalicelib.errors import InvalidArgument
from chalicelib.model import Task, now_ms
from chalicelib.notifications import EndpointPolicy, NotificationSettings, Sender, message_body, retry_delay
from chalicelib.store import TaskStore

log = logging.getLogger(__name__)
MAX_SQS_DELAY = 900  # seconds: SQS's limit, above the longest delay a strategy asks for


def region_settings(store: TaskStore, region_id: str) -> NotificationSettings:
    stored = store.get_notification(region_id)
    if stored is None:
        return NotificationSettings(enabled=False)
    return NotificationSettings(**{**stored, "events": tuple(stored["events"])})


class Delivery:
    """Enqueues finished tasks and delivers queued ones, re-queueing failures with the strategy's delay."""

    def __init__(self, store: TaskStore, sqs: Any, queue_url: str, sender: Sender, policy: EndpointPolicy,
                 delay_scale: float = 1.0) -> None:
        self._store = store
        self._sqs = sqs
        self._queue_url = queue_url
        self._sender = sender
        self._policy = policy
        self._scale = delay_scale

    def enqueue(self, task: Task) -> None:
        """Queues a finished task if its region wants notifications; never raises into the worker."""
        try:
            if region_settings(self._store, task.regionId).enabled:
                self._send({"taskID": task.taskID, "regionId": task.regionId, "attempts": 0,
                            "firstAttemptMs": now_ms()}, delay=0)
        except Exception:  # the task's own result stands whatever happens here
            log.exception("could not queue the notification of %s", task.taskID)

    def handle(self, raw: str) -> None:
        """One queued message: deliver it, or put it back for a later try, or drop it for good."""
        message = json.loads(raw)
        settings = region_settings(self._store, message["regionId"])
        if not settings.enabled or settings.endpoint is None or self._store.was_notified(message["taskID"]):
            return
        try:
            self._policy.check(settings.endpoint)
        except InvalidArgument as exc:
            log.warning("not notifying %s: %s", settings.endpoint, exc.message)
            return
        task = self._store.get(message["taskID"])
        status, _ = self._sender.post(settings.endpoint, message_body(task, settings.notifyContentFormat),
                                      "Notification")
        if 200 <= status < 300:
            self._store.mark_notified(task.taskID)
            return
        attempts = message["attempts"] + 1
        delay = retry_delay(settings.notifyStrategy, attempts, message["firstAttemptMs"], self._scale)
        if delay is None:
            log.warning("giving up notifying %s of %s after %d tries", settings.endpoint, task.taskID, attempts)
            return
        self._send({**message, "attempts": attempts}, delay)

    def _send(self, message: dict[str, Any], delay: float) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message),
                               DelaySeconds=min(math.ceil(delay), MAX_SQS_DELAY))
