"""Lazily built clients and collaborators, so importing the app is cheap and tests can reset them."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.delivery import Delivery
from chalicelib.dispatch import Dispatcher, LambdaDispatcher, LocalDispatcher
from chalicelib.notifications import EndpointPolicy, Sender
from chalicelib.settings import get_settings
from chalicelib.signature import SignatureVerifier, load_access_keys
from chalicelib.store import NonceTable, TaskStore


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    """A boto3 client honouring the configured endpoint (the emulator on the local stack)."""
    settings = get_settings()
    config = Config(retries={"mode": "standard", "max_attempts": 3},
                    s3={"addressing_style": "path"} if settings.endpoint_url else None,
                    signature_version="s3v4" if service == "s3" else None)
    return boto3.session.Session().client(service, region_name=settings.aws_region,
                                          endpoint_url=settings.endpoint_url, config=config)


@lru_cache(maxsize=1)
def _table() -> Any:
    settings = get_settings()
    dynamodb = boto3.session.Session().resource("dynamodb", region_name=settings.aws_region,
                                                endpoint_url=settings.endpoint_url)
    return dynamodb.Table(settings.table_name)


@lru_cache(maxsize=1)
def get_store() -> TaskStore:
    return TaskStore(_table(), get_settings().retention_days)


@lru_cache(maxsize=1)
def get_verifier() -> SignatureVerifier | None:
    """The JD Cloud signature check, on exactly when access keys are configured (env or secret store)."""
    settings = get_settings()
    raw = settings.access_keys_json
    if raw is None and settings.access_keys_secret:
        raw = client("secretsmanager").get_secret_value(SecretId=settings.access_keys_secret)["SecretString"]
    keys = load_access_keys(raw)
    return SignatureVerifier(keys, nonce_store=NonceTable(_table())) if keys else None


@lru_cache(maxsize=1)
def get_dispatcher() -> Dispatcher:
    settings = get_settings()
    if settings.dispatch_mode == "local":
        from chalicelib.worker import handle_event  # the worker imports this module
        return LocalDispatcher(handle_event, settings.local_workers)
    if settings.dispatch_mode == "lambda":
        return LambdaDispatcher(client("lambda"), settings.worker_function)
    raise ValueError(f"MPS_DISPATCH must be 'lambda' or 'local', not {settings.dispatch_mode!r}")


def get_endpoint_policy() -> EndpointPolicy:
    return EndpointPolicy(get_settings().notify_allow)


@lru_cache(maxsize=1)
def get_sender() -> Sender:
    return Sender(get_settings().notify_timeout_seconds)


@lru_cache(maxsize=1)
def get_delivery() -> Delivery | None:
    """None where the stage has no notification queue: notifications cannot be enabled there."""
    settings = get_settings()
    if settings.notify_queue_url is None:
        return None
    return Delivery(get_store(), client("sqs"), settings.notify_queue_url, get_sender(), get_endpoint_policy(),
                    settings.notify_delay_scale)


def require_delivery() -> Delivery:
    """The delivery of a stage that must have one (the notify function's own stage)."""
    delivery = get_delivery()
    if delivery is None:
        raise RuntimeError("MPS_NOTIFY_QUEUE_URL is not set for the notify function")
    return delivery


def reset() -> None:
    """Forgets settings and every client, so a changed environment takes effect (local stack, tests)."""
    get_settings.cache_clear()
    client.cache_clear()
    _table.cache_clear()
    get_store.cache_clear()
    get_verifier.cache_clear()
    get_dispatcher.cache_clear()
    get_sender.cache_clear()
    get_delivery.cache_clear()
