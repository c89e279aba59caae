"""S3-triggered tasks and completion events on the local stack.

The session stack must be started with these triggers (tests/conftest.py passes
`triggers=TRIGGERS` to LocalStack): emulator S3 notifications go to an emulator SQS
queue, and a poller hands each message to the app's SQS handler, as on AWS.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import services
from chalicelib.events import DETAIL_TYPE, SOURCE, publish_finished
from chalicelib.model import format_time, now_ms, parse_time
from chalicelib.triggers import TriggerConfigError, parse_triggers
from local.stack import LocalStack
from local.triggers import QUEUE, TriggerFeed
from tests.conftest import ARCHIVE, REGION, THUMBNAILS, WATCHED, Api
from tests.videos import TestVideo


@pytest.fixture(scope="module")
def feed(stack: LocalStack) -> TriggerFeed:
    if stack.triggers is None:
        pytest.fail("the session stack has no triggers: tests/conftest.py must pass triggers=TRIGGERS to LocalStack")
    return stack.triggers


def upload(s3: Any, bucket: str, path: Path, key: str) -> str:
    s3.upload_file(str(path), bucket, key)
    return key


def _outcome(feed: TriggerFeed, bucket: str, key: str, timeout: float = 30) -> dict[str, Any]:
    return feed.wait_for(lambda o: o["bucket"] == bucket and o["key"] == key, timeout)


def _tasks(api: Api) -> list[dict[str, Any]]:
    response = api.list(REGION)
    assert response.status_code == 200, response.text
    return response.json()["result"]["thumbnailQuery"]["taskList"]


def _upload_and_finish(s3: Any, api: Api, feed: TriggerFeed, video: TestVideo, key: str) -> dict[str, Any]:
    upload(s3, WATCHED, video.path, key)
    outcome = _outcome(feed, WATCHED, key)
    assert outcome["result"] == "created", outcome
    return api.wait(REGION, outcome["task_id"])


def test_upload_into_watched_bucket_makes_thumbnails(s3: Any, api: Api, feed: TriggerFeed,
                                                     numbered_video: TestVideo) -> None:
    key = f"in/{uuid.uuid4().hex[:8]}.mp4"
    task = _upload_and_finish(s3, api, feed, numbered_video, key)
    assert task["status"] == "SUCCESS", task
    assert task["source"] == {"bucket": WATCHED, "key": key}
    assert task["rule"]["mode"] == "multi" and task["rule"]["count"] == 2
    assert len(task["target"]["keys"]) == 2
    for output in task["target"]["keys"]:
        assert output.startswith(f"{key}-{task['taskID']}-")
        assert s3.head_object(Bucket=THUMBNAILS, Key=output)["ContentType"] == "image/jpeg"
    origin = services.get_store().get(task["taskID"]).trigger
    assert origin["bucket"] == WATCHED and origin["key"] == key and origin["eventTime"].endswith("Z")
    # The task ID starts with the event time, and createdTime agrees, so begin/end listings find it.
    assert task["createdTime"] == format_time(parse_time(origin["eventTime"]))
    bounded = api.list(REGION, f"begin={task['createdTime']}&end={task['createdTime']}").json()["result"]
    assert task["taskID"] in [t["taskID"] for t in bounded["thumbnailQuery"]["taskList"]]


def test_thumbnails_written_into_a_watched_bucket_start_nothing(s3: Any, api: Api, feed: TriggerFeed,
                                                                numbered_video: TestVideo) -> None:
    task = _upload_and_finish(s3, api, feed, numbered_video, f"in/{uuid.uuid4().hex[:8]}.mp4")
    assert task["status"] == "SUCCESS", task
    for output in task["target"]["keys"]:
        assert _outcome(feed, THUMBNAILS, output)["result"] == "thumbnail"
    assert all(t["source"]["bucket"] == WATCHED for t in _tasks(api))
    assert s3.list_objects_v2(Bucket=ARCHIVE).get("KeyCount", 0) == 0


@pytest.mark.parametrize("name", ["with space.mp4", "a+b plus.mp4", "ünïcödé 视频 🎬.mp4", "100%25 & more=1?.mp4"])
def test_encoded_keys_are_decoded(s3: Any, api: Api, feed: TriggerFeed, numbered_video: TestVideo,
                                  name: str) -> None:
    key = f"in/{uuid.uuid4().hex[:6]} {name}"
    task = _upload_and_finish(s3, api, feed, numbered_video, key)
    assert task["source"]["key"] == key
    assert task["status"] == "SUCCESS", task
    assert all(output.startswith(key + "-") for output in task["target"]["keys"])


def test_keys_outside_the_triggers_do_nothing(s3: Any, api: Api, feed: TriggerFeed,
                                              numbered_video: TestVideo) -> None:
    keys = [f"out/{uuid.uuid4().hex[:8]}.mp4", f"in/{uuid.uuid4().hex[:8]}.mov"]
    for key in keys:
        upload(s3, WATCHED, numbered_video.path, key)
    for key in keys:
        assert _outcome(feed, WATCHED, key) == {"bucket": WATCHED, "key": key, "result": "unwatched",
                                                "task_id": None}
    assert not [t for t in _tasks(api) if t["source"]["key"] in keys]


def _s3_event(bucket: str, key: str, sequencer: str) -> str:
    """An ObjectCreated notification as S3 writes it (key URL-encoded, spaces as '+')."""
    from urllib.parse import quote_plus

    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": format_time(now_ms()),
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key), "size": 1, "eTag": "0" * 32, "sequencer": sequencer}},
    }]})


def test_a_repeated_event_makes_one_task(s3: Any, api: Api, feed: TriggerFeed, emulator: Any,
                                         numbered_video: TestVideo) -> None:
    key = f"in/{uuid.uuid4().hex[:8]} again.mp4"
    upload(s3, WATCHED, numbered_video.path, key)
    first = _outcome(feed, WATCHED, key)  # the emulator's own notification
    sqs = emulator.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    body = _s3_event(WATCHED, key, sequencer=uuid.uuid4().hex[:16].upper())
    for _ in range(3):  # at least once: the same event, delivered three times
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    deadline = time.monotonic() + 30
    while len([o for o in feed.outcomes if o["key"] == key]) < 4:
        assert time.monotonic() < deadline, feed.outcomes
        time.sleep(0.05)
    repeats = [o for o in feed.outcomes if o["key"] == key][1:]
    assert [o["result"] for o in repeats].count("created") == 1
    assert {o["result"] for o in repeats} <= {"created", "duplicate", "redispatched"}
    assert len({o["task_id"] for o in repeats}) == 1
    assert first["task_id"] != repeats[0]["task_id"]  # a different event (no sequencer in the emulator's)
    finished = api.wait(REGION, repeats[0]["task_id"])
    assert finished["status"] == "SUCCESS", finished
    assert sorted(t["taskID"] for t in _tasks(api) if t["source"]["key"] == key) == \
        sorted([first["task_id"], repeats[0]["task_id"]])


def test_a_trigger_that_would_feed_on_its_thumbnails_is_refused() -> None:
    with pytest.raises(TriggerConfigError, match="its own thumbnails"):
        parse_triggers(json.dumps([{"bucket": "b", "prefix": "videos/", "target": {"destBucket": "b"}}]), "r", 10)
    allowed = parse_triggers(json.dumps([{"bucket": "b", "prefix": "videos/", "target": {
        "destBucket": "b", "destKeyPrefix": "thumbs/x"}}]), "r", 10)
    assert allowed[0].region_id == "r"


class Inbox:
    """Completion events that reached an SQS queue through an EventBridge rule, by taskID."""

    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs, self._url = sqs, url
        self._seen: dict[str, dict[str, Any]] = {}

    def event(self, task_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while task_id not in self._seen:
            assert time.monotonic() < deadline, f"no completion event for {task_id} within {timeout} s"
            for message in self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10,
                                                     WaitTimeSeconds=1).get("Messages", []):
                event = json.loads(message["Body"])
                self._seen.setdefault(event["detail"]["taskID"], event)
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return self._seen[task_id]


@pytest.fixture(scope="module")
def completions(emulator: Any) -> Iterator[Inbox]:
    """An EventBridge rule on the default bus sending this service's completion events to a queue."""
    events, sqs = emulator.client("events"), emulator.client("sqs")
    name = f"completions-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [SOURCE], "detail-type": [DETAIL_TYPE]}))
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    yield Inbox(sqs, url)
    events.remove_targets(Rule=name, Ids=["queue"])
    events.delete_rule(Name=name)


def test_publish_finished_reaches_an_eventbridge_rule(completions: Inbox, s3: Any, api: Api, bucket: str,
                                                      region: str, numbered_video: TestVideo) -> None:
    key = upload(s3, bucket, numbered_video.path, "video.mp4")
    task_id = api.create_ok(region, {"source": {"bucket": bucket, "key": key}, "target": {"destBucket": bucket}})
    api.wait(region, task_id)
    publish_finished(services.get_store().get(task_id))
    event = completions.event(task_id)
    assert event["source"] == SOURCE and event["detail-type"] == DETAIL_TYPE
    assert event["detail"]["status"] == "SUCCESS" and event["detail"]["regionId"] == region


def test_the_worker_announces_every_finished_task(completions: Inbox, s3: Any, api: Api, feed: TriggerFeed,
                                                  numbered_video: TestVideo) -> None:
    task = _upload_and_finish(s3, api, feed, numbered_video, f"in/{uuid.uuid4().hex[:8]}.mp4")
    missing = api.wait(REGION, api.create_ok(REGION, {"source": {"bucket": WATCHED, "key": "in/missing.mp4"},
                                                      "target": {"destBucket": THUMBNAILS}}))
    for finished in (task, missing):
        detail = completions.event(finished["taskID"])["detail"]
        assert detail == {"taskID": finished["taskID"], "regionId": REGION, "status": finished["status"],
                          "errorCode": finished["errorCode"], "keys": finished["target"]["keys"],
                          "source": finished["source"],
                          "target": {k: v for k, v in finished["target"].items() if k != "keys"}}
    assert missing["status"] == "ERROR" and missing["errorCode"] == 1001
