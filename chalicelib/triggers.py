"""Uploads into watched buckets become thumbnail tasks, by the same path as the API.

Configuration: MPS_TRIGGERS, a JSON list of {"bucket", "prefix", "suffix", "regionId",
"rule", "target"}; rule and target are those of a ThumbnailTask (the source is the
uploaded object). regionId defaults to the stack's AWS region. S3 sends its
ObjectCreated events to an SQS queue; the queue's Lambda handler (app.py), or the
local stack's poller, hands each message body to `handle_messages`.

At least once: S3 may deliver an event twice, and SQS may hand a message over twice.
The task ID is derived from the event, so a repeat cannot make a second task: its
first 12 hex digits are the event time in ms (IDs still sort by time), the other 20 a
hash of the object's identity in that event (bucket, key, versionId, sequencer) and of
the trigger. The store's conditional put then refuses the repeat (TaskExists) and it
counts as done; a repeat that finds the task still PENDDING dispatches it again, since
the first attempt may have died between recording and dispatching (the worker's claim
makes a second dispatch harmless).

No loops: a key shaped like a thumbnail ({prefix}-{taskID}-{NNNN}.{format}) never
starts a task, and a trigger whose own thumbnails it could match is refused when the
configuration is read.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.api import submit_task
from chalicelib.dispatch import Dispatcher
from chalicelib.errors import InvalidArgument
from chalicelib.model import PENDING, TASK_ID_PATTERN, new_task_id, parse_time
from chalicelib.settings import Settings
from chalicelib.store import TaskExists, TaskStore
from chalicelib.validation import FORMATS, parse_task_spec, validate_region

log = logging.getLogger(__name__)

ENV_VAR = "MPS_TRIGGERS"
FIELDS = frozenset({"bucket", "prefix", "suffix", "regionId", "rule", "target"})
OUTPUT_KEY = re.compile(r"-" + TASK_ID_PATTERN.pattern.strip("^$") + r"-[0-9]{4}\.(?:" + "|".join(FORMATS) + r")$")

CREATED, DUPLICATE, REDISPATCHED, THUMBNAIL, UNWATCHED, INVALID = (
    "created", "duplicate", "redispatched", "thumbnail", "unwatched", "invalid")


class TriggerConfigError(ValueError):
    """MPS_TRIGGERS is not a valid list of triggers."""


@dataclass(frozen=True)
class Trigger:
    """One watched bucket (and key prefix and suffix), and the task to make of each upload there."""

    bucket: str
    prefix: str
    suffix: str
    region_id: str
    rule: dict[str, Any]
    target: dict[str, Any]

    def matches(self, bucket: str, key: str) -> bool:
        return bucket == self.bucket and key.startswith(self.prefix) and key.endswith(self.suffix)

    def fingerprint(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Upload:
    """One ObjectCreated record, its key decoded."""

    bucket: str
    key: str
    event_time: str
    sequencer: str | None
    version_id: str | None
    etag: str | None

    def origin(self) -> dict[str, Any]:
        """What Task.trigger records about the event that made the task."""
        found = {"bucket": self.bucket, "key": self.key, "eventTime": self.event_time,
                 "sequencer": self.sequencer, "versionId": self.version_id}
        return {name: value for name, value in found.items() if value is not None}

    def task_id(self, trigger: Trigger) -> str:
        """The same for every delivery of this event to this trigger (see the module docstring)."""
        # Real S3 events always carry a sequencer; the emulator's lack one, so eTag stands in.
        identity = [self.bucket, self.key, self.version_id or "", self.sequencer or f"etag:{self.etag}",
                    trigger.fingerprint()]
        digest = hashlib.sha256("\0".join(identity).encode()).hexdigest()
        return new_task_id(parse_time(self.event_time), tail=digest[:20])


@dataclass(frozen=True)
class Outcome:
    """What one record led to; the handler returns these (logs, the local stack's tests)."""

    bucket: str
    key: str
    result: str
    task_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(raw: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or (default is None and not value):
        raise TriggerConfigError(f"{where}.{name} must be a{' non-empty' if default is None else ''} string")
    return value


def _outputs_could_match(trigger: Trigger) -> bool:
    """Whether a thumbnail of this trigger could itself match it (conservatively)."""
    target = trigger.target
    if target["destBucket"] != trigger.bucket:
        return False
    dest_prefix = target.get("destKeyPrefix")
    # Without destKeyPrefix the thumbnails are named after the upload, which matched the prefix.
    prefix_overlaps = dest_prefix is None or dest_prefix.startswith(trigger.prefix) \
        or trigger.prefix.startswith(dest_prefix)
    ending = "." + (target.get("format") or "jpg").lower()
    suffix_overlaps = ending.endswith(trigger.suffix) or trigger.suffix.endswith(ending)
    return prefix_overlaps and suffix_overlaps


def parse_triggers(raw: str, default_region: str, max_count: int) -> tuple[Trigger, ...]:
    """The triggers of an MPS_TRIGGERS value; TriggerConfigError names what is wrong."""
    try:
        items = json.loads(raw) if raw.strip() else []
    except ValueError as exc:
        raise TriggerConfigError(f"{ENV_VAR} is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise TriggerConfigError(f"{ENV_VAR} must be a JSON list")
    triggers = []
    for index, item in enumerate(items):
        where = f"{ENV_VAR}[{index}]"
        if not isinstance(item, dict):
            raise TriggerConfigError(f"{where} must be an object")
        unknown = set(item) - FIELDS
        if unknown:
            raise TriggerConfigError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
        rule, target = item.get("rule") or {}, item.get("target")
        if not isinstance(rule, dict) or not isinstance(target, dict):
            raise TriggerConfigError(f"{where}.rule must be an object and {where}.target an object")
        trigger = Trigger(bucket=_text(item, "bucket", where), prefix=_text(item, "prefix", where, ""),
                          suffix=_text(item, "suffix", where, ""),
                          region_id=_text(item, "regionId", where, default_region), rule=rule, target=target)
        try:
            validate_region(trigger.region_id)
            # A stand-in upload: rule and target are checked now, not at the first event.
            parse_task_spec({"source": {"bucket": trigger.bucket, "key": trigger.prefix + "x" + trigger.suffix},
                             "target": target, "rule": rule}, max_count)
        except InvalidArgument as exc:
            raise TriggerConfigError(f"{where}: {exc.message}") from None
        if _outputs_could_match(trigger):
            raise TriggerConfigError(f"{where} would start tasks on its own thumbnails: give target a "
                                     "destBucket, destKeyPrefix or format the trigger's prefix and suffix exclude")
        triggers.append(trigger)
    return tuple(triggers)


def configured_triggers(settings: Settings) -> tuple[Trigger, ...]:
    """The triggers in this process's environment (parsed once per distinct value)."""
    return _parsed(os.environ.get(ENV_VAR, ""), settings.aws_region, settings.max_count)


@lru_cache(maxsize=4)
def _parsed(raw: str, default_region: str, max_count: int) -> tuple[Trigger, ...]:
    return parse_triggers(raw, default_region, max_count)


def uploads(body: str) -> list[Upload]:
    """The ObjectCreated records of one S3 notification (an SQS message body); [] for S3's test event."""
    message = json.loads(body)
    found = []
    for record in message.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        obj = record["s3"]["object"]
        found.append(Upload(bucket=record["s3"]["bucket"]["name"], key=unquote_plus(obj["key"]),
                            event_time=record["eventTime"], sequencer=obj.get("sequencer"),
                            version_id=obj.get("versionId"), etag=obj.get("eTag")))
    return found


def start_task(upload: Upload, trigger: Trigger, store: TaskStore, dispatcher: Dispatcher,
               max_count: int) -> Outcome:
    """Records and dispatches the task of one upload, once however often the event comes."""
    task_id = upload.task_id(trigger)
    try:
        spec = parse_task_spec({"source": {"bucket": upload.bucket, "key": upload.key},
                                "target": trigger.target, "rule": trigger.rule}, max_count)
    except InvalidArgument as exc:  # e.g. a key too long to name thumbnails after: retrying cannot help
        log.warning("s3://%s/%s cannot become a task: %s", upload.bucket, upload.key, exc.message)
        return Outcome(upload.bucket, upload.key, INVALID)
    try:
        submit_task(store, dispatcher, trigger.region_id, spec, trigger=upload.origin(), task_id=task_id)
    except TaskExists:
        if store.get(task_id).status != PENDING:
            return Outcome(upload.bucket, upload.key, DUPLICATE, task_id)
        dispatcher.dispatch(task_id)
        return Outcome(upload.bucket, upload.key, REDISPATCHED, task_id)
    log.info("s3://%s/%s started task %s", upload.bucket, upload.key, task_id)
    return Outcome(upload.bucket, upload.key, CREATED, task_id)


def handle_messages(bodies: Iterable[str], store: TaskStore, dispatcher: Dispatcher,
                    settings: Settings) -> list[Outcome]:
    """Starts the tasks of a batch of S3 notifications; raises (so the batch comes again) if one cannot start."""
    triggers = configured_triggers(settings)
    outcomes = []
    for body in bodies:
        for upload in uploads(body):
            if OUTPUT_KEY.search(upload.key):
                outcomes.append(Outcome(upload.bucket, upload.key, THUMBNAIL))
                continue
            matching = [trigger for trigger in triggers if trigger.matches(upload.bucket, upload.key)]
            if not matching:
                outcomes.append(Outcome(upload.bucket, upload.key, UNWATCHED))
            for trigger in matching:
                outcomes.append(start_task(upload, trigger, store, dispatcher, settings.max_count))
    return outcomes
