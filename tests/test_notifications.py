"""setNotification/getNotification and delivery to a real endpoint on loopback, through the durable queue."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.errors import InvalidArgument
from chalicelib.model import now_ms
from chalicelib.notifications import EndpointPolicy, retry_delay
from tests.conftest import Api, upload
from tests.receiver import Receiver
from tests.test_api import assert_error


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def put(api: Api, region: str, body: Any) -> Any:
    return api.http.put(f"{api.base_url}/v1/regions/{region}/notification", json=body, timeout=30)


def settings(api: Api, region: str) -> dict[str, Any]:
    response = api.http.get(f"{api.base_url}/v1/regions/{region}/notification", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["result"]["notification"]


def subscribe(api: Api, region: str, receiver: Receiver, **extra: Any) -> None:
    response = put(api, region, {"enabled": True, "endpoint": receiver.url, **extra})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"requestId"}


def finish_task(api: Api, s3: Any, bucket: str, region: str, video: Any, key: str | None = None) -> dict[str, Any]:
    source = key or upload(s3, bucket, video.path)
    body = {"source": {"bucket": bucket, "key": source}, "target": {"destBucket": bucket}}
    return api.wait(region, api.create_ok(region, body))


def test_the_endpoint_is_confirmed_before_it_is_stored(api: Api, region: str, receiver: Receiver) -> None:
    assert settings(api, region) == {"enabled": False, "endpoint": None, "events": ["mpsThumbnailComplete"],
                                     "notifyStrategy": "BACKOFF_RETRY", "notifyContentFormat": "JSON"}
    subscribe(api, region, receiver, notifyContentFormat="SIMPLIFIED", notifyStrategy="EXPONENTIAL_DECAY_RETRY")
    [confirmation] = receiver.script.received
    assert confirmation.message_type == "SubscriptionConfirmation"
    assert confirmation.json["type"] == "SubscriptionConfirmation"
    assert settings(api, region) == {"enabled": True, "endpoint": receiver.url,
                                     "events": ["mpsThumbnailComplete"], "notifyStrategy": "EXPONENTIAL_DECAY_RETRY",
                                     "notifyContentFormat": "SIMPLIFIED"}


def test_an_endpoint_that_does_not_confirm_is_refused(api: Api, region: str, receiver: Receiver) -> None:
    receiver.script.confirm = False
    assert_error(put(api, region, {"enabled": True, "endpoint": receiver.url}), 400, "INVALID_ARGUMENT",
                 "endpoint", "confirm")
    assert settings(api, region)["enabled"] is False


@pytest.mark.parametrize("body, field", [
    ({}, "enabled"), ({"enabled": "yes"}, "enabled"), ({"enabled": True}, "endpoint"),
    ({"enabled": True, "endpoint": "ftp://example.com/"}, "endpoint"),
    ({"enabled": True, "endpoint": "http://0.0.0.0:9/"}, "endpoint"),
    ({"enabled": True, "endpoint": "http://127.0.0.1:9/", "notifyStrategy": "SOMETIMES"}, "notifyStrategy"),
    ({"enabled": True, "endpoint": "http://127.0.0.1:9/", "notifyContentFormat": "XML"}, "notifyContentFormat"),
    ({"enabled": True, "endpoint": "http://127.0.0.1:9/", "events": ["mpsTranscodeComplete"]}, "events"),
])
def test_bad_settings_are_400_naming_the_field(api: Api, region: str, body: dict[str, Any], field: str) -> None:
    assert_error(put(api, region, body), 400, "INVALID_ARGUMENT", field)
    assert settings(api, region)["enabled"] is False


@pytest.mark.parametrize("endpoint, allow, refused", [
    ("http://127.0.0.1:8080/", frozenset(), "loopback"),
    ("http://[::1]:8080/", frozenset(), "loopback"),
    ("http://localhost/", frozenset(), "loopback"),
    ("http://169.254.169.254/latest/meta-data/", frozenset({"loopback"}), "link-local"),
    ("http://10.1.2.3/", frozenset({"loopback"}), "private"),
    ("http://192.168.0.10/", frozenset({"loopback", "link-local"}), "private"),
    ("http://[::ffff:172.16.0.1]/", frozenset(), "private"),
    ("http://0.0.0.0/", frozenset({"loopback", "private"}), "reserved"),
    ("file:///etc/passwd", frozenset({"loopback"}), "http"),
])
def test_internal_endpoints_are_refused_unless_the_stage_allows_them(endpoint: str, allow: frozenset[str],
                                                                    refused: str) -> None:
    """The check resolves names but never connects, so no traffic leaves for these addresses."""
    with pytest.raises(InvalidArgument, match=refused):
        EndpointPolicy(allow).check(endpoint)


def test_allowed_classes_pass() -> None:
    EndpointPolicy(frozenset({"loopback"})).check("http://127.0.0.1:9/")
    EndpointPolicy(frozenset({"private"})).check("http://10.1.2.3/")
    EndpointPolicy(frozenset({"link-local"})).check("http://169.254.1.1/")


def test_success_and_error_tasks_are_delivered_once_each(api: Api, s3: Any, bucket: str, region: str,
                                                         receiver: Receiver, numbered_video: Any) -> None:
    subscribe(api, region, receiver)
    good = finish_task(api, s3, bucket, region, numbered_video)
    bad = finish_task(api, s3, bucket, region, numbered_video, key="missing.mp4")
    delivered = {r.json["message"]["taskID"]: r.json for r in receiver.wait_for(2)}
    assert delivered[good["taskID"]]["message"] == {"taskID": good["taskID"], "status": "SUCCESS",
                                                    "errorCode": None, "keys": good["target"]["keys"]}
    assert delivered[good["taskID"]]["eventType"] == "mpsThumbnailComplete"
    assert delivered[good["taskID"]]["thumbnailTask"]["status"] == "SUCCESS"
    assert delivered[bad["taskID"]]["message"] == {"taskID": bad["taskID"], "status": "ERROR",
                                                   "errorCode": 1001, "keys": []}
    time.sleep(1.5)
    assert len(receiver.script.notifications()) == 2


def test_simplified_format_is_the_outcome_alone(api: Api, s3: Any, bucket: str, region: str,
                                                receiver: Receiver, numbered_video: Any) -> None:
    subscribe(api, region, receiver, notifyContentFormat="SIMPLIFIED")
    task = finish_task(api, s3, bucket, region, numbered_video)
    [received] = receiver.wait_for(1)
    assert received.json == {"taskID": task["taskID"], "status": "SUCCESS", "errorCode": None,
                             "keys": task["target"]["keys"]}


def test_a_failing_endpoint_is_retried_and_served_once(api: Api, s3: Any, bucket: str, region: str,
                                                       receiver: Receiver, numbered_video: Any) -> None:
    subscribe(api, region, receiver, notifyStrategy="BACKOFF_RETRY")
    receiver.script.failures = 2
    task = finish_task(api, s3, bucket, region, numbered_video)
    attempts = receiver.wait_for(3)
    assert [r.json["message"]["taskID"] for r in attempts] == [task["taskID"]] * 3
    time.sleep(2)
    assert len(receiver.script.notifications()) == 3  # two failures, one success, nothing after it
    assert api.get(region, task["taskID"]).json()["result"]["thumbnailTask"] == task


def test_an_endpoint_that_never_answers_leaves_the_task_alone(api: Api, s3: Any, bucket: str, region: str,
                                                              receiver: Receiver, numbered_video: Any) -> None:
    subscribe(api, region, receiver)
    receiver.script.hang_seconds = 5
    started = time.monotonic()
    task = finish_task(api, s3, bucket, region, numbered_video)
    assert time.monotonic() - started < 5
    assert task["status"] == "SUCCESS"
    receiver.wait_for(1)
    assert api.get(region, task["taskID"]).json()["result"]["thumbnailTask"] == task


def test_retry_schedules() -> None:
    first = now_ms()
    backoff = [retry_delay("BACKOFF_RETRY", n, first) for n in range(1, 5)]
    assert all(10 <= d <= 20 for d in backoff[:3]) and backoff[3] is None
    decay = [retry_delay("EXPONENTIAL_DECAY_RETRY", n, first) for n in range(1, 13)]
    assert decay == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512]
    assert retry_delay("EXPONENTIAL_DECAY_RETRY", 200, first - 86_000_000) is None


def test_redirects_are_not_followed(api: Api, region: str, receiver: Receiver) -> None:
    """A 307 to an endpoint that would confirm: following it could reach addresses the check never saw."""
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(307)
            self.send_header("Location", receiver.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = put(api, region, {"enabled": True, "endpoint": f"http://127.0.0.1:{server.server_address[1]}/"})
        assert_error(answer, 400, "INVALID_ARGUMENT", "endpoint", "confirm")
        assert receiver.script.received == []
    finally:
        server.shutdown()
