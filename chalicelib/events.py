"""Announces every finished task on EventBridge; rules route the events anywhere (SQS, SNS, Step Functions...)."""
from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib import services
from chalicelib.model import Task

log = logging.getLogger(__name__)

# The account's default bus: the worker's IAM policy names it.
EVENT_BUS = "default"
SOURCE = "mps-thumbnail"
DETAIL_TYPE = "Thumbnail Task Finished"


def finished_entry(task: Task) -> dict[str, Any]:
    """The PutEvents entry of a finished task; a rule matches it on source and detail-type."""
    api = task.to_api()
    detail = {**task.outcome(), "regionId": task.regionId, "source": api["source"],
              "target": {name: value for name, value in api["target"].items() if name != "keys"}}
    return {"EventBusName": EVENT_BUS, "Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail),
            "Resources": []}


def publish_finished(task: Task) -> None:
    """Puts the task's completion event; never raises, so the worker's recorded result stands."""
    try:
        response = services.client("events").put_events(Entries=[finished_entry(task)])
        if response.get("FailedEntryCount"):
            log.warning("completion event of task %s refused: %s", task.taskID, response.get("Entries"))
    except Exception:  # noqa: BLE001 - an announcement must never fail the task
        log.exception("could not publish the completion event of task %s", task.taskID)
