"""Turns a request body into a TaskSpec, or an InvalidArgument that names the field."""
from __future__ import annotations

import re
from typing import Any

from chalicelib.errors import InvalidArgument
from chalicelib.model import FORMATS, Rule, Source, Target, TaskSpec

MODES = ("single", "multi", "average")
MIN_SIDE, MAX_SIDE = 8, 4096
MAX_KEY_LENGTH = 1024
REGION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# The fields a mode does not use, with the only value they may carry there.
UNAVAILABLE = {
    "single": {"count": 1, "endTimeInSecond": -1},
    "average": {"endTimeInSecond": -1, "startTimeInSecond": 0},
    "multi": {},
}


def validate_region(region_id: str) -> str:
    if not REGION_PATTERN.match(region_id or ""):
        raise InvalidArgument("regionId must be lower-case letters, digits and '-'")
    return region_id


def _object(body: dict[str, Any], name: str, path: str, required: bool) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidArgument(f"{path} is required")
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{path} must be an object")
    return value


def _string(obj: dict[str, Any], name: str, path: str, default: str | None = None) -> str:
    value = obj.get(name)
    if value is None:
        if default is None:
            raise InvalidArgument(f"{path} is required")
        return default
    if not isinstance(value, str):
        raise InvalidArgument(f"{path} must be a string")
    if not value.strip() or len(value) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"{path} must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
    return value


def _integer(obj: dict[str, Any], name: str, path: str, default: int) -> int:
    value = obj.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{path} must be an integer")
    return value


def _side(obj: dict[str, Any], name: str) -> int:
    value = _integer(obj, name, f"target.{name}", 0)
    if value != 0 and not MIN_SIDE <= value <= MAX_SIDE:
        raise InvalidArgument(f"target.{name} must be 0 or in [{MIN_SIDE}, {MAX_SIDE}]")
    return value


def _rule(body: dict[str, Any], max_count: int) -> Rule:
    raw = _object(body, "rule", "rule", required=False)
    mode = raw.get("mode")
    if mode is None:
        mode = "single"
    if mode not in MODES:
        raise InvalidArgument(f"rule.mode must be one of {', '.join(MODES)}")
    key_frame = raw.get("keyFrame")
    if key_frame is None:
        key_frame = True
    if not isinstance(key_frame, bool):
        raise InvalidArgument("rule.keyFrame must be a boolean")
    rule = Rule(
        mode=mode,
        keyFrame=key_frame,
        startTimeInSecond=_integer(raw, "startTimeInSecond", "rule.startTimeInSecond", 0),
        endTimeInSecond=_integer(raw, "endTimeInSecond", "rule.endTimeInSecond", -1),
        count=_integer(raw, "count", "rule.count", 1),
    )
    for name, only in UNAVAILABLE[mode].items():
        if getattr(rule, name) != only:
            raise InvalidArgument(f"rule.{name} is unavailable when rule.mode is {mode}")
    if rule.startTimeInSecond < 0:
        raise InvalidArgument("rule.startTimeInSecond must be 0 or more")
    if rule.endTimeInSecond != -1 and rule.endTimeInSecond < rule.startTimeInSecond:
        raise InvalidArgument("rule.endTimeInSecond must be -1 or not less than rule.startTimeInSecond")
    if not 1 <= rule.count <= max_count:
        raise InvalidArgument(f"rule.count must be in [1, {max_count}]")
    return rule


def parse_task_spec(body: Any, max_count: int) -> TaskSpec:
    """Validates a createThumbnailTask body; null means absent, readonly and unknown fields are ignored."""
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object (a ThumbnailTask)")
    raw_source = _object(body, "source", "source", required=True)
    source = Source(bucket=_string(raw_source, "bucket", "source.bucket"),
                    key=_string(raw_source, "key", "source.key"))
    raw_target = _object(body, "target", "target", required=True)
    fmt = raw_target.get("format")
    if fmt is None:
        fmt = "jpg"
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise InvalidArgument(f"target.format must be one of {', '.join(FORMATS)}")
    target = Target(
        destBucket=_string(raw_target, "destBucket", "target.destBucket"),
        destKeyPrefix=_string(raw_target, "destKeyPrefix", "target.destKeyPrefix", default=source.key),
        format=fmt.lower(),
        widthInPixel=_side(raw_target, "widthInPixel"),
        heightInPixel=_side(raw_target, "heightInPixel"),
    )
    return TaskSpec(source=source, target=target, rule=_rule(body, max_count))
