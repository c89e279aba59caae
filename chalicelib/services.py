"""Lazily built clients and collaborators, so importing the app is cheap and tests can reset them."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.dispatch import Dispatcher, LambdaDispatcher, LocalDispatcher
from chalicelib.settings import get_settings
from chalicelib.store import TaskStore


def client(service: str) -> Any:
    """A boto3 client honouring the configured endpoint (the emulator on the local stack)."""
    return _client(service)


@lru_cache(maxsize=None)
def _client(service: str) -> Any:
    settings = get_settings()
    config = Config(retries={"mode": "standard", "max_attempts": 3},
                    s3={"addressing_style": "path"} if settings.endpoint_url else None,
                    signature_version="s3v4" if service == "s3" else None)
    return boto3.session.Session().client(service, region_name=settings.aws_region,
                                          endpoint_url=settings.endpoint_url, config=config)


@lru_cache(maxsize=1)
def get_store() -> TaskStore:
    settings = get_settings()
    dynamodb = boto3.session.Session().resource("dynamodb", region_name=settings.aws_region,
                                                endpoint_url=settings.endpoint_url)
    return TaskStore(dynamodb.Table(settings.table_name), settings.retention_days)


@lru_cache(maxsize=1)
def get_dispatcher() -> Dispatcher:
    settings = get_settings()
    if settings.dispatch_mode == "local":
        from chalicelib.worker import handle_event  # the worker imports this module
        return LocalDispatcher(handle_event, settings.local_workers)
    if settings.dispatch_mode == "lambda":
        return LambdaDispatcher(client("lambda"), settings.worker_function)
    raise ValueError(f"MPS_DISPATCH must be 'lambda' or 'local', not {settings.dispatch_mode!r}")


def reset() -> None:
    """Forgets settings and every client, so a changed environment takes effect (local stack, tests)."""
    get_settings.cache_clear()
    _client.cache_clear()
    get_store.cache_clear()
    get_dispatcher.cache_clear()
