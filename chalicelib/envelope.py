"""The one place that shapes JD Cloud answers: {requestId, result} or {requestId, error}."""
from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.errors import ApiError, Internal, Unauthenticated
from chalicelib.signature import SignatureVerifier, SignedRequest

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "x-jdcloud-request-id"


def new_request_id() -> str:
    return uuid.uuid4().hex


def success(request_id: str, result: dict[str, Any] | None) -> Response:
    body: dict[str, Any] = {"requestId": request_id}
    if result is not None:
        body["result"] = result
    return _response(request_id, 200, body)


def plain(body: dict[str, Any]) -> Response:
    """A JSON answer outside the envelope (the OpenAPI document), still carrying a request ID."""
    return _response(new_request_id(), 200, body)


def failure(request_id: str, error: ApiError) -> Response:
    body = {"requestId": request_id,
            "error": {"code": error.status_code, "status": error.canonical, "message": error.message}}
    return _response(request_id, error.status_code, body)


def _response(request_id: str, status: int, body: dict[str, Any]) -> Response:
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", REQUEST_ID_HEADER: request_id})


CANONICAL = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def front_door(request: Any, get_response: Callable[[Any], Response],
               verifier: SignatureVerifier | None) -> Response:
    """Every HTTP request: the signature check where it is on, then the route, then the envelope."""
    if verifier is not None:
        try:
            verifier.verify(SignedRequest.from_chalice(request))
        except Unauthenticated as exc:
            return failure(new_request_id(), exc)
    return enveloped(get_response(request))


def enveloped(response: Response) -> Response:
    """Re-shapes an answer Chalice made itself (415, 405, ...) into the error envelope."""
    if REQUEST_ID_HEADER in response.headers:
        return response
    status = response.status_code
    canonical = CANONICAL.get(status, "INVALID_ARGUMENT" if status < 500 else "INTERNAL")
    return failure(new_request_id(), ApiError(_foreign_message(response.body), status, canonical))


def _foreign_message(body: Any) -> str:
    try:
        parsed = json.loads(body) if isinstance(body, (str, bytes)) else body
        return str(parsed.get("Message") or parsed.get("message") or parsed)
    except (ValueError, AttributeError):
        return str(body)


def jdcloud_call(view: Callable[..., dict[str, Any] | None]) -> Callable[..., Response]:
    """Wraps a view returning the `result` object; every exception becomes an error envelope."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        request_id = new_request_id()
        try:
            return success(request_id, view(*args, **kwargs))
        except ApiError as exc:
            return failure(request_id, exc)
        except Exception:  # the envelope promises a body with requestId even for our own bugs
            log.exception("request %s failed", request_id)
            return failure(request_id, Internal("internal error; quote the requestId when reporting it"))

    return wrapper
