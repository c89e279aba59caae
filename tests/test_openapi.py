"""The shipped OpenAPI document is valid and describes what the API really answers."""
from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from chalicelib.openapi import document
from tests.conftest import Api, upload


def test_the_document_is_valid_openapi() -> None:
    validate(document())


def test_the_api_serves_it(api: Api) -> None:
    response = api.http.get(f"{api.base_url}/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.json() == document()


def check(response: Any, path: str, method: str) -> None:
    """Validates a real response body against the document's schema for that operation and status."""
    operation = document()["paths"][path][method]
    assert str(response.status_code) in operation["responses"], f"{method} {path} {response.status_code} undocumented"
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document()["components"]}).validate(response.json())


TASKS, TASK, NOTIFY = ("/v1/regions/{regionId}/thumbnail", "/v1/regions/{regionId}/thumbnail/{taskId}",
                       "/v1/regions/{regionId}/notification")


def test_real_answers_match_the_document(api: Api, region: str, s3: Any, bucket: str, numbered_video: Any) -> None:
    key = upload(s3, bucket, numbered_video.path)
    body = {"source": {"bucket": bucket, "key": key}, "target": {"destBucket": bucket},
            "rule": {"mode": "multi", "count": 2}}
    created = api.create(region, body)
    check(created, TASKS, "post")
    task_id = created.json()["result"]["thumbnailTaskID"]["taskID"]
    api.wait(region, task_id)
    failed = api.create_ok(region, {**body, "source": {"bucket": bucket, "key": "missing.mp4"}})
    api.wait(region, failed)
    check(api.get(region, task_id), TASK, "get")
    check(api.get(region, failed), TASK, "get")
    check(api.get(region, "f" * 32), TASK, "get")
    check(api.list(region, "limit=1"), TASKS, "get")
    check(api.list(region, "limit=0"), TASKS, "get")
    check(api.create(region, {"source": {}}), TASKS, "post")
    notification = f"{api.base_url}/v1/regions/{region}/notification"
    check(api.http.put(notification, json={"enabled": False}), NOTIFY, "put")
    check(api.http.put(notification, json={"enabled": "no"}), NOTIFY, "put")
    check(api.http.get(notification), NOTIFY, "get")


def test_an_undocumented_field_would_fail_the_check(api: Api, region: str) -> None:
    response = api.list(region)
    response.json = lambda: {**response.__class__.json(response), "extra": 1}  # type: ignore[method-assign]
    with pytest.raises(Exception, match="extra"):
        check(response, TASKS, "get")
