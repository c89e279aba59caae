"""The official JD Cloud SDK (jdcloud-sdk) as a client of the local stack, with signature checking on."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jdcloud_sdk.core.config import Config
from jdcloud_sdk.core.credential import Credential
from jdcloud_sdk.core.logger import Logger
from jdcloud_sdk.core.signer import Signer
from jdcloud_sdk.services.mps.apis.CreateThumbnailTaskRequest import (
    CreateThumbnailTaskParameters,
    CreateThumbnailTaskRequest,
)
from jdcloud_sdk.services.mps.apis.GetThumbnailTaskRequest import GetThumbnailTaskParameters, GetThumbnailTaskRequest
from jdcloud_sdk.services.mps.apis.ListThumbnailTaskRequest import ListThumbnailTaskParameters, ListThumbnailTaskRequest
from jdcloud_sdk.services.mps.client.MpsClient import MpsClient
from jdcloud_sdk.services.mps.models.ThumbnailTaskRule import ThumbnailTaskRule
from jdcloud_sdk.services.mps.models.ThumbnailTaskSource import ThumbnailTaskSource
from jdcloud_sdk.services.mps.models.ThumbnailTaskTarget import ThumbnailTaskTarget

from chalicelib import services
from tests.conftest import upload

ACCESS_KEY, SECRET = "AKLOCALTEST", "local-test-secret"
QUIET = Logger(1)  # the SDK otherwise prints every request, Authorization included


@pytest.fixture(scope="module")
def endpoint(stack: Any) -> Iterator[str]:
    """The stack with signature checking on, as `MPS_ACCESS_KEYS` turns it on."""
    os.environ["MPS_ACCESS_KEYS"] = json.dumps({ACCESS_KEY: SECRET})
    services.reset()
    yield stack.api_url.removeprefix("http://")
    del os.environ["MPS_ACCESS_KEYS"]
    services.reset()


def client(endpoint: str, access_key: str = ACCESS_KEY, secret: str = SECRET) -> MpsClient:
    return MpsClient(Credential(access_key, secret), Config(endpoint, scheme="http", timeout=30), QUIET)


def create(endpoint: str, region: str, bucket: str, key: str, rule: ThumbnailTaskRule | None = None,
           **client_args: str) -> Any:
    params = CreateThumbnailTaskParameters(region, ThumbnailTaskSource(bucket, key),
                                           ThumbnailTaskTarget(bucket, destKeyPrefix="sdk/out"))
    if rule is not None:
        params.setRule(rule)
    return client(endpoint, **client_args).send(CreateThumbnailTaskRequest(params))


def get(endpoint: str, region: str, task_id: str) -> Any:
    return client(endpoint).send(GetThumbnailTaskRequest(GetThumbnailTaskParameters(region, task_id)))


def listing(endpoint: str, region: str, **query: Any) -> Any:
    params = ListThumbnailTaskParameters(region)
    for name, value in query.items():
        getattr(params, "set" + name[0].upper() + name[1:])(value)
    return client(endpoint).send(ListThumbnailTaskRequest(params))


def wait(endpoint: str, region: str, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        task = get(endpoint, region, task_id).result["thumbnailTask"]
        if task["status"] in ("SUCCESS", "ERROR"):
            return task
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_create_get_and_list_with_the_sdk(endpoint: str, region: str, s3: Any, bucket: str,
                                          numbered_video: Any) -> None:
    key = upload(s3, bucket, numbered_video.path)
    created = create(endpoint, region, bucket, key, ThumbnailTaskRule(mode="multi", keyFrame=True, count=3))
    assert created.error is None
    task_id = created.result["thumbnailTaskID"]["taskID"]
    task = wait(endpoint, region, task_id)
    assert task["status"] == "SUCCESS"
    assert task["target"]["keys"] == [f"sdk/out-{task_id}-{n:04d}.jpg" for n in (1, 2, 3)]
    second = create(endpoint, region, bucket, key).result["thumbnailTaskID"]["taskID"]
    wait(endpoint, region, second)

    everything = listing(endpoint, region, status="SUCCESS", begin=task["createdTime"],
                         end="2999-01-01T00:00:00.000Z", limit=1)
    assert everything.error is None
    query = everything.result["thumbnailQuery"]
    assert [t["taskID"] for t in query["taskList"]] == [second]
    assert (query["truncated"], query["nextMarker"], query["begin"]) == (True, second, task["createdTime"])
    rest = listing(endpoint, region, status="SUCCESS", begin=task["createdTime"], end="2999-01-01T00:00:00.000Z",
                   marker=second, limit=1).result["thumbnailQuery"]
    assert ([t["taskID"] for t in rest["taskList"]], rest["truncated"]) == ([task_id], False)


def test_errors_reach_the_sdk_caller(endpoint: str, region: str) -> None:
    bad = create(endpoint, region, "in", "a.mp4", ThumbnailTaskRule(mode="single", count=3))
    assert bad.result is None
    assert (bad.error.code, bad.error.status) == (400, "INVALID_ARGUMENT")
    assert "rule.count" in bad.error.message and "single" in bad.error.message
    missing = get(endpoint, region, "0" * 32)
    assert (missing.error.code, missing.error.status) == (404, "NOT_FOUND")
    bad_limit = listing(endpoint, region, limit=5000)
    assert (bad_limit.error.code, bad_limit.error.status) == (400, "INVALID_ARGUMENT")
    assert listing(endpoint, region).result["thumbnailQuery"]["taskList"] == []


@pytest.mark.parametrize("access_key, secret", [(ACCESS_KEY, "wrong-secret"), ("AKUNKNOWN", SECRET)])
def test_a_wrong_key_or_secret_is_401_and_creates_nothing(endpoint: str, region: str, access_key: str,
                                                          secret: str) -> None:
    answer = create(endpoint, region, "in", "a.mp4", access_key=access_key, secret=secret)
    assert (answer.error.code, answer.error.status) == (401, "UNAUTHENTICATED")
    assert listing(endpoint, region).result["thumbnailQuery"]["taskList"] == []


def signed_request(endpoint: str, method: str, path: str, body: str = "") -> dict[str, Any]:
    """Headers and URL exactly as the SDK's signer makes them, to send (and tamper with) by hand."""
    url = f"http://{endpoint}{path}"
    headers = {"Content-Type": "application/json"}
    Signer(QUIET).sign(method=method, service="mps", region="cn-north-1", uri=url, headers=headers, data=body,
                       credential=Credential(ACCESS_KEY, SECRET), security_token="")
    return {"method": method, "url": url, "headers": headers, "data": body.encode()}


def body_for() -> str:
    return json.dumps({"source": {"bucket": "in", "key": "a.mp4"}, "target": {"destBucket": "out"}})


def send(request: dict[str, Any]) -> requests.Response:
    return requests.request(**request, timeout=30)


def test_a_signed_request_by_hand_passes_once(endpoint: str, region: str) -> None:
    request = signed_request(endpoint, "POST", f"/v1/regions/{region}/thumbnail", body_for())
    assert send(request).status_code == 200
    services.reset()  # a fresh verifier, as in another Lambda container: the nonce is remembered in the table
    replay = send(request)
    assert replay.status_code == 401
    assert replay.json()["error"]["status"] == "UNAUTHENTICATED"
    assert len(listing(endpoint, region).result["thumbnailQuery"]["taskList"]) == 1


@pytest.mark.parametrize("tamper", ["body", "path", "query", "host", "unsigned", "date"])
def test_tampered_or_unsigned_requests_are_401_and_create_nothing(endpoint: str, region: str, tamper: str) -> None:
    request = signed_request(endpoint, "POST", f"/v1/regions/{region}/thumbnail", body_for())
    if tamper == "body":
        request["data"] = request["data"].replace(b"a.mp4", b"b.mp4")
    elif tamper == "path":
        request["url"] = request["url"].replace(region, region + "x")
    elif tamper == "query":
        request["url"] += "?limit=1"
    elif tamper == "host":
        request["headers"]["Host"] = "mps.jdcloud-api.com"
    elif tamper == "unsigned":
        request["headers"] = {"Content-Type": "application/json"}
    elif tamper == "date":
        request["headers"]["x-jdcloud-date"] = "20200101T000000Z"
    answer = send(request)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == {"code": 401, "status": "UNAUTHENTICATED",
                                      "message": answer.json()["error"]["message"]}
    assert answer.headers["x-jdcloud-request-id"] == answer.json()["requestId"]
    for name in (region, region + "x"):
        assert listing(endpoint, name).result["thumbnailQuery"]["taskList"] == []


def test_access_keys_can_come_from_the_secret_store(endpoint: str, stack: Any, region: str) -> None:
    """On AWS the keys live in Secrets Manager (MPS_ACCESS_KEYS_SECRET), never in the repository."""
    secrets = stack.emulator.client("secretsmanager")
    name = f"mps-thumbnail-keys-{region}"
    secrets.create_secret(Name=name, SecretString=json.dumps({"AKFROMSECRET": "secret-from-store"}))
    keys_in_env = os.environ.pop("MPS_ACCESS_KEYS", None)  # the module's keys would take precedence
    os.environ["MPS_ACCESS_KEYS_SECRET"] = name
    services.reset()
    try:
        good = create(endpoint, region, "in", "a.mp4", access_key="AKFROMSECRET", secret="secret-from-store")
        assert good.error is None, (good.error.code, good.error.message)
        stale = create(endpoint, region, "in", "a.mp4", access_key=ACCESS_KEY, secret=SECRET)
        assert (stale.error.code, stale.error.status) == (401, "UNAUTHENTICATED")
    finally:
        del os.environ["MPS_ACCESS_KEYS_SECRET"]
        if keys_in_env is not None:
            os.environ["MPS_ACCESS_KEYS"] = keys_in_env
        services.reset()
