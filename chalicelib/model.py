"""The ThumbnailTask as the API and the store see it."""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

PENDING = "PENDDING"  # sic: the JD Cloud document spells it so, and clients compare to it
RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
ERROR = "ERROR"
STATUSES = (PENDING, RUNNING, SUCCESS, ERROR)
# Output formats and the Content-Type each image is stored with.
FORMATS: dict[str, str] = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class Rule:
    mode: str = "single"
    keyFrame: bool = True
    startTimeInSecond: int = 0
    endTimeInSecond: int = -1
    count: int = 1


@dataclass(frozen=True)
class Source:
    bucket: str
    key: str


@dataclass(frozen=True)
class Target:
    destBucket: str
    destKeyPrefix: str
    format: str = "jpg"
    widthInPixel: int = 0
    heightInPixel: int = 0
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """What a caller asks for: validated, defaults filled in."""

    source: Source
    target: Target
    rule: Rule


@dataclass(frozen=True)
class Task:
    """A recorded task: the spec plus the fields the service owns."""

    taskID: str
    regionId: str
    spec: TaskSpec
    status: str = PENDING
    errorCode: int | None = None
    createdTime: str = ""
    lastUpdatedTime: str = ""
    trigger: dict[str, Any] | None = field(default=None, compare=False)

    def with_keys(self, keys: list[str]) -> "Task":
        return replace(self, spec=replace(self.spec, target=replace(self.spec.target, keys=tuple(keys))))

    def outcome(self) -> dict[str, Any]:
        """How the task ended, as notifications and completion events tell it."""
        return {"taskID": self.taskID, "status": self.status, "errorCode": self.errorCode,
                "keys": list(self.spec.target.keys)}

    def to_api(self) -> dict[str, Any]:
        """The ThumbnailTask object of the JD Cloud API."""
        spec = self.spec
        return {
            "taskID": self.taskID,
            "status": self.status,
            "errorCode": self.errorCode,
            "createdTime": self.createdTime,
            "lastUpdatedTime": self.lastUpdatedTime,
            "source": {"bucket": spec.source.bucket, "key": spec.source.key},
            "target": {
                "destBucket": spec.target.destBucket,
                "destKeyPrefix": spec.target.destKeyPrefix,
                "format": spec.target.format,
                "widthInPixel": spec.target.widthInPixel,
                "heightInPixel": spec.target.heightInPixel,
                "keys": list(spec.target.keys),
            },
            "rule": {
                "mode": spec.rule.mode,
                "keyFrame": spec.rule.keyFrame,
                "startTimeInSecond": spec.rule.startTimeInSecond,
                "endTimeInSecond": spec.rule.endTimeInSecond,
                "count": spec.rule.count,
            },
        }


def format_time(epoch_ms: int) -> str:
    """yyyy-MM-ddTHH:mm:ss.SSSZ in UTC, as the JD Cloud API writes times."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_time(text: str) -> int:
    """Epoch milliseconds of a yyyy-MM-ddTHH:mm:ss[.SSS]Z time; ValueError otherwise."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return int(moment.replace(tzinfo=timezone.utc).timestamp() * 1000)
    raise ValueError(f"not a yyyy-MM-ddTHH:mm:ss.SSSZ time: {text!r}")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


TASK_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_task_id(epoch_ms: int, tail: str | None = None) -> str:
    """32 hex characters: creation time in ms, then 80 bits (random unless `tail` gives them).

    IDs sort by creation time, and listThumbnailTask's begin/end become a key range.
    """
    tail = secrets.token_hex(10) if tail is None else tail
    if len(tail) != 20:
        raise ValueError("a task ID tail is 20 hex digits")
    return task_id_time_prefix(epoch_ms) + tail


def task_id_time(task_id: str) -> int:
    """The creation time, in epoch ms, that a task ID starts with."""
    return int(task_id[:12], 16)


def task_id_time_prefix(epoch_ms: int) -> str:
    """The leading part of every task ID created in that millisecond."""
    return f"{epoch_ms:012x}"


def task_id_bounds(begin_ms: int | None, end_ms: int | None) -> tuple[str, str]:
    """The task ID range [low, high] of tasks created from begin_ms to end_ms inclusive."""
    low = task_id_time_prefix(begin_ms) if begin_ms is not None else "0" * 12
    high = task_id_time_prefix(end_ms) + "~" if end_ms is not None else "~"
    return low, high
