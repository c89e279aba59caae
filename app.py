"""HTTP routes and Lambda handlers; all logic lives in chalicelib."""
from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib import api
from chalicelib.envelope import enveloped, jdcloud_call
from chalicelib.services import get_dispatcher, get_store
from chalicelib.settings import get_settings
from chalicelib.worker import handle_event

app = Chalice(app_name="mps-thumbnail")


@app.middleware("http")
def jdcloud_envelope(event: Any, get_response: Any) -> Any:
    return enveloped(get_response(event))

# Accept what real clients send (curl -d labels JSON as a form); the body is parsed as JSON regardless.
BODY_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]


@app.route("/v1/regions/{regionId}/thumbnail", methods=["POST"], content_types=BODY_TYPES)
@jdcloud_call
def create_thumbnail_task(regionId: str) -> dict[str, Any]:
    body = api.parse_json_body(app.current_request.raw_body)
    return api.create_thumbnail_task(get_store(), get_dispatcher(), regionId, body, get_settings().max_count)


@app.route("/v1/regions/{regionId}/thumbnail/{taskId}", methods=["GET"])
@jdcloud_call
def get_thumbnail_task(regionId: str, taskId: str) -> dict[str, Any]:
    return api.get_thumbnail_task(get_store(), regionId, taskId)


@app.route("/v1/regions/{regionId}/thumbnail", methods=["GET"])
@jdcloud_call
def list_thumbnail_task(regionId: str) -> dict[str, Any]:
    return api.list_thumbnail_tasks(get_store(), regionId, app.current_request.query_params or {})


@app.lambda_function(name="worker")
def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event)
