"""Configuration, read once from the environment into a typed object."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    """Everything the app and the worker read from their environment."""

    table_name: str
    aws_region: str
    endpoint_url: str | None
    dispatch_mode: str
    worker_function: str
    local_workers: int
    ffmpeg_timeout_seconds: float
    task_timeout_seconds: float
    presign_seconds: int
    max_count: int
    max_source_pixels: int
    retention_days: int
    extract_concurrency: int
    notify_queue_url: str | None
    notify_allow: frozenset[str]
    notify_delay_scale: float
    notify_timeout_seconds: float
    access_keys_json: str | None
    access_keys_secret: str | None


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def load_settings() -> Settings:
    """Reads the settings from os.environ (see the README's Configuration table)."""
    return Settings(
        table_name=os.environ.get("MPS_TABLE_NAME", "mps-thumbnail-tasks"),
        aws_region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
        endpoint_url=os.environ.get("MPS_AWS_ENDPOINT_URL") or None,
        dispatch_mode=os.environ.get("MPS_DISPATCH", "lambda"),
        worker_function=os.environ.get("MPS_WORKER_FUNCTION", "mps-thumbnail-dev-worker"),
        local_workers=_int("MPS_LOCAL_WORKERS", 2),
        ffmpeg_timeout_seconds=_float("MPS_FFMPEG_TIMEOUT", 60.0),
        task_timeout_seconds=_float("MPS_TASK_TIMEOUT", 840.0),
        presign_seconds=_int("MPS_PRESIGN_SECONDS", 3600),
        max_count=_int("MPS_MAX_COUNT", 100),
        max_source_pixels=_int("MPS_MAX_SOURCE_PIXELS", 8192 * 8192),
        retention_days=_int("MPS_TASK_RETENTION_DAYS", 90),
        extract_concurrency=_int("MPS_EXTRACT_CONCURRENCY", 3),
        notify_queue_url=os.environ.get("MPS_NOTIFY_QUEUE_URL") or None,
        notify_allow=frozenset(filter(None, os.environ.get("MPS_NOTIFY_ALLOW", "").split(","))),
        notify_delay_scale=_float("MPS_NOTIFY_DELAY_SCALE", 1.0),
        notify_timeout_seconds=_float("MPS_NOTIFY_TIMEOUT", 5.0),
        access_keys_json=os.environ.get("MPS_ACCESS_KEYS") or None,
        access_keys_secret=os.environ.get("MPS_ACCESS_KEYS_SECRET") or None,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use so importing the app stays cheap."""
    return load_settings()
