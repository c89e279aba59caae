"""The thumbnail calls, free of HTTP: each takes parsed input and returns the `result` object."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.delivery import Delivery, region_settings
from chalicelib.dispatch import Dispatcher, DispatchFailed
from chalicelib.errors import ApiError, InvalidArgument
from chalicelib.model import (
    ERROR,
    PENDING,
    RUNNING,
    SUCCESS,
    TASK_ID_PATTERN,
    Task,
    TaskSpec,
    format_time,
    new_task_id,
    now_ms,
    parse_time,
    task_id_bounds,
    task_id_time,
)
from chalicelib.notifications import EndpointPolicy, Sender, confirm_subscription, parse_settings
from chalicelib.store import TaskStore
from chalicelib.validation import parse_task_spec, validate_region

log = logging.getLogger(__name__)

# Both documented spellings are accepted in the list filter.
STATUS_FILTERS = {"PENDING": PENDING, "PENDDING": PENDING, "RUNNING": RUNNING, "SUCCESS": SUCCESS,
                  "ERROR": ERROR, "FAILED": ERROR}
MAX_LIMIT = 1000


class Unavailable(ApiError):
    """The task could not be handed to a worker; nothing was recorded."""

    status_code = 503
    canonical = "UNAVAILABLE"


def parse_json_body(raw: str | bytes | None) -> Any:
    if not raw:
        raise InvalidArgument("the request body is required (a JSON ThumbnailTask)")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"the request body is not valid JSON: {exc}") from None


def submit_task(store: TaskStore, dispatcher: Dispatcher, region_id: str, spec: TaskSpec,
                trigger: dict[str, Any] | None = None, task_id: str | None = None) -> Task:
    """Records a task and hands it to a worker; the API and the S3 trigger both come here.

    createdTime is the time the task ID starts with, so listings bounded by it agree with the ID order.
    """
    task_id = task_id or new_task_id(now_ms())
    stamp = format_time(task_id_time(task_id))
    task = Task(taskID=task_id, regionId=region_id, spec=spec, createdTime=stamp, lastUpdatedTime=stamp,
                trigger=trigger)
    store.put_new(task)
    try:
        dispatcher.dispatch(task.taskID)
    except DispatchFailed as exc:
        log.error("dispatch of %s failed: %s", task.taskID, exc)
        store.delete_pending(task.taskID)
        raise Unavailable("the task could not be started; try again") from exc
    return task


def create_thumbnail_task(store: TaskStore, dispatcher: Dispatcher, region_id: str, body: Any,
                          max_count: int) -> dict[str, Any]:
    spec = parse_task_spec(body, max_count)
    task = submit_task(store, dispatcher, validate_region(region_id), spec)
    return {"thumbnailTaskID": {"taskID": task.taskID}}


def get_thumbnail_task(store: TaskStore, region_id: str, task_id: str) -> dict[str, Any]:
    return {"thumbnailTask": store.get(task_id, validate_region(region_id)).to_api()}


def _time_bound(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a time like 2024-01-01T00:00:00.000Z") from None


def list_thumbnail_tasks(store: TaskStore, region_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """Newest first; marker is the taskID to continue after; begin and end bound createdTime (inclusive)."""
    validate_region(region_id)
    status = query.get("status") or None
    if status is not None and status.upper() not in STATUS_FILTERS:
        raise InvalidArgument("status must be one of " + ", ".join(STATUS_FILTERS))
    begin, end = _time_bound(query, "begin"), _time_bound(query, "end")
    if begin is not None and end is not None and end < begin:
        raise InvalidArgument("end must not be before begin")
    marker = query.get("marker") or None
    if marker is not None and not TASK_ID_PATTERN.match(marker):
        raise InvalidArgument("marker must be a taskID returned by an earlier listing")
    raw_limit = query.get("limit") or str(MAX_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be an integer in [1, {MAX_LIMIT}]")
    limit = int(raw_limit)
    low, high = task_id_bounds(begin, end)
    page = store.list(region_id, statuses=(STATUS_FILTERS[status.upper()],) if status else (),
                      low=low, high=high, marker=marker, limit=limit)
    return {"thumbnailQuery": {
        "begin": query.get("begin") or None,
        "end": query.get("end") or None,
        "limit": limit,
        "marker": marker,
        "nextMarker": page.next_marker,
        "status": status,
        "taskList": [task.to_api() for task in page.tasks],
        "truncated": page.next_marker is not None,
    }}


def set_notification(store: TaskStore, delivery: Delivery | None, policy: EndpointPolicy, sender: Sender,
                     region_id: str, body: Any) -> None:
    """Stores a region's settings; an endpoint must be allowed and pass the confirmation handshake first."""
    validate_region(region_id)
    settings = parse_settings(body)
    if settings.enabled:
        if delivery is None:
            raise Unavailable("notifications are not configured on this stage (no MPS_NOTIFY_QUEUE_URL)")
        assert settings.endpoint is not None  # parse_settings requires it when enabled
        policy.check(settings.endpoint)
        confirm_subscription(sender, settings.endpoint, region_id)
    store.put_notification(region_id, settings.to_api())


def get_notification(store: TaskStore, region_id: str) -> dict[str, Any]:
    return {"notification": region_settings(store, validate_region(region_id)).to_api()}
