"""Task-completion notifications to an HTTP endpoint, as JD Cloud MPS sends them.

setNotification stores a region's settings after the endpoint passes the
SubscriptionConfirmation handshake. When a task ends, the worker puts a small
message on a durable queue; the delivery handler POSTs it and, on failure, puts
it back with the delay the strategy gives, so retries outlive the worker and
never touch the task's own result.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import logging
import random
import socket
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3

from chalicelib.errors import InvalidArgument
from chalicelib.model import Task, format_time, now_ms

log = logging.getLogger(__name__)

EVENTS = ("mpsThumbnailComplete",)
STRATEGIES = ("BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY")
CONTENT_FORMATS = ("JSON", "SIMPLIFIED")
MESSAGE_TYPE_HEADER = "x-jdcloud-message-type"
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class NotificationSettings:
    """A region's notification settings, as setNotification takes and getNotification shows them."""

    enabled: bool
    endpoint: str | None = None
    events: tuple[str, ...] = EVENTS
    notifyStrategy: str = "BACKOFF_RETRY"
    notifyContentFormat: str = "JSON"

    def to_api(self) -> dict[str, Any]:
        return {**asdict(self), "events": list(self.events)}


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}")
    return value


def parse_settings(body: Any) -> NotificationSettings:
    """Validates a setNotification body; null means absent."""
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidArgument("enabled is required and must be a boolean")
    events = body.get("events")
    if events is None:
        events = list(EVENTS)
    if not isinstance(events, list) or not events or any(event not in EVENTS for event in events):
        raise InvalidArgument(f"events must be a non-empty list of {', '.join(EVENTS)}")
    endpoint = body.get("endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        raise InvalidArgument("endpoint must be a string")
    if enabled and not endpoint:
        raise InvalidArgument("endpoint is required when enabled is true")
    return NotificationSettings(
        enabled=enabled, endpoint=endpoint or None, events=tuple(dict.fromkeys(events)),
        notifyStrategy=_choice(body, "notifyStrategy", STRATEGIES, "BACKOFF_RETRY"),
        notifyContentFormat=_choice(body, "notifyContentFormat", CONTENT_FORMATS, "JSON"))


class EndpointPolicy:
    """Which endpoints may be called: http(s) only, and no internal addresses unless allowed.

    `allow` names address classes a stage opens up: "loopback", "private", "link-local".
    """

    def __init__(self, allow: frozenset[str] = frozenset()) -> None:
        self._allow = allow

    def check(self, endpoint: str) -> None:
        """Raises InvalidArgument naming `endpoint` if it may not be called."""
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument("endpoint must be an http or https URL")
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                       proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError, ValueError):
            raise InvalidArgument("endpoint's host does not resolve") from None
        for info in infos:
            refused = self._refused_class(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
            if refused:
                raise InvalidArgument(f"endpoint resolves to a {refused} address, which this stage refuses")

    def _refused_class(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if address.is_loopback:
            return None if "loopback" in self._allow else "loopback"
        if address.is_unspecified or address.is_multicast or address.is_reserved:
            return "reserved"
        if address.is_link_local:
            return None if "link-local" in self._allow else "link-local"
        if address.is_private:
            return None if "private" in self._allow else "private"
        return None


class Sender:
    """POSTs to endpoints without following redirects (a redirect could point inside)."""

    def __init__(self, timeout_seconds: float) -> None:
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout_seconds), retries=False)

    def post(self, endpoint: str, body: bytes, message_type: str) -> tuple[int, bytes]:
        """(status, body) of the answer; (0, b"") when the endpoint could not be reached."""
        headers = {"Content-Type": "application/json", MESSAGE_TYPE_HEADER: message_type,
                   "x-jdcloud-message-id": uuid.uuid4().hex}
        try:
            response = self._http.request("POST", endpoint, body=body, headers=headers, redirect=False,
                                          preload_content=True)
        except urllib3.exceptions.HTTPError as exc:
            log.info("POST to %s failed: %s", endpoint, exc)
            return 0, b""
        return response.status, response.data


def confirm_subscription(sender: Sender, endpoint: str, region_id: str) -> None:
    """The handshake: the endpoint must answer the base64 of the message body it was sent."""
    body = json.dumps({"type": "SubscriptionConfirmation", "regionId": region_id,
                       "token": uuid.uuid4().hex, "timestamp": format_time(now_ms())}).encode()
    status, answer = sender.post(endpoint, body, "SubscriptionConfirmation")
    if status != 200 or answer.strip() != base64.b64encode(body):
        raise InvalidArgument("endpoint did not confirm the subscription: it must answer HTTP 200 with the "
                              "base64 encoding of the SubscriptionConfirmation message body")


def message_body(task: Task, content_format: str) -> bytes:
    """SIMPLIFIED: the outcome alone; JSON: the outcome in an envelope with the whole task."""
    outcome = task.outcome()
    if content_format == "SIMPLIFIED":
        return json.dumps(outcome).encode()
    return json.dumps({"messageId": uuid.uuid4().hex, "eventType": EVENTS[0], "regionId": task.regionId,
                       "publishTime": format_time(now_ms()), "message": outcome,
                       "thumbnailTask": task.to_api()}).encode()


def retry_delay(strategy: str, attempts: int, first_attempt_ms: int, scale: float = 1.0) -> float | None:
    """Seconds to wait after `attempts` failed tries, or None to give up.

    BACKOFF_RETRY: 3 retries, 10-20 s apart. EXPONENTIAL_DECAY_RETRY: 1, 2, 4 ... 512 s,
    then every 512 s, until a day has passed since the first try.
    """
    if strategy == "BACKOFF_RETRY":
        return random.uniform(10, 20) * scale if attempts <= 3 else None
    delay = min(2 ** (attempts - 1), 512) * scale
    elapsed = (now_ms() - first_attempt_ms) / 1000
    return delay if elapsed + delay <= DAY_SECONDS * scale else None
