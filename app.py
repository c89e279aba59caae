"""HTTP routes and Lambda handlers; all logic lives in chalicelib."""
from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, IAMAuthorizer, Response
from chalice.app import Request

from chalicelib import api, openapi, services, triggers
from chalicelib.envelope import front_door, jdcloud_call, plain
from chalicelib.settings import get_settings
from chalicelib.worker import handle_event

app = Chalice(app_name="mps-thumbnail")

# API Gateway's IAM auth, unless a stage serves JD Cloud clients and checks their
# signatures itself (MPS_API_AUTH=jdcloud with MPS_ACCESS_KEYS_SECRET; see docs/deploy.md).
# Chalice imports the app with the stage's environment, so this is per stage.
AUTHORIZER = None if os.environ.get("MPS_API_AUTH") == "jdcloud" else IAMAuthorizer()

# Accept what real clients send (curl -d labels JSON as a form); the body is parsed as JSON regardless.
BODY_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
# Created by the merged template (the local stack makes its own in the emulator). Chalice
# imports the app with the stage's environment variables, so each stage names its own queues.
NOTIFY_QUEUE = os.environ.get("MPS_NOTIFY_QUEUE", "mps-thumbnail-notify")
UPLOAD_QUEUE = os.environ.get("MPS_UPLOAD_QUEUE", "mps-thumbnail-uploads")


def current_request() -> Request:
    """The request of the route being served (Chalice sets it before every route call)."""
    request = app.current_request
    assert request is not None
    return request


@app.middleware("http")
def jdcloud_front_door(event: Any, get_response: Any) -> Any:
    return front_door(event, get_response, services.get_verifier())


@app.route("/v1/regions/{regionId}/thumbnail", methods=["POST"], content_types=BODY_TYPES, authorizer=AUTHORIZER)
@jdcloud_call
def create_thumbnail_task(regionId: str) -> dict[str, Any]:
    body = api.parse_json_body(current_request().raw_body)
    return api.create_thumbnail_task(services.get_store(), services.get_dispatcher(), regionId, body,
                                     get_settings().max_count)


@app.route("/v1/regions/{regionId}/thumbnail/{taskId}", methods=["GET"], authorizer=AUTHORIZER)
@jdcloud_call
def get_thumbnail_task(regionId: str, taskId: str) -> dict[str, Any]:
    return api.get_thumbnail_task(services.get_store(), regionId, taskId)


@app.route("/v1/regions/{regionId}/thumbnail", methods=["GET"], authorizer=AUTHORIZER)
@jdcloud_call
def list_thumbnail_task(regionId: str) -> dict[str, Any]:
    return api.list_thumbnail_tasks(services.get_store(), regionId, current_request().query_params or {})


@app.route("/v1/regions/{regionId}/notification", methods=["PUT"], content_types=BODY_TYPES, authorizer=AUTHORIZER)
@jdcloud_call
def set_notification(regionId: str) -> None:
    body = api.parse_json_body(current_request().raw_body)
    api.set_notification(services.get_store(), services.get_delivery(), services.get_endpoint_policy(),
                         services.get_sender(), regionId, body)


@app.route("/v1/regions/{regionId}/notification", methods=["GET"], authorizer=AUTHORIZER)
@jdcloud_call
def get_notification(regionId: str) -> dict[str, Any]:
    return api.get_notification(services.get_store(), regionId)


@app.route("/v1/openapi.json", methods=["GET"], authorizer=AUTHORIZER)
def openapi_document() -> Response:
    return plain(openapi.document())


@app.lambda_function(name="worker")
def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event)


@app.on_sqs_message(queue=NOTIFY_QUEUE, batch_size=1, name="notify")
def deliver_notifications(event: Any) -> None:
    delivery = services.require_delivery()
    for record in event:
        delivery.handle(record.body)


@app.on_sqs_message(queue=UPLOAD_QUEUE, batch_size=1, name="triggers")
def start_triggered_tasks(event: Any) -> list[dict[str, Any]]:
    outcomes = triggers.handle_messages((record.body for record in event), services.get_store(),
                                        services.get_dispatcher(), get_settings())
    return [outcome.to_dict() for outcome in outcomes]
