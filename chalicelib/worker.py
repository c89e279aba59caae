"""The worker: claim a task, probe the source through a presigned URL, extract, upload, record.

Every failure ends the task in ERROR with an ErrorCode; nothing is recorded as
SUCCESS unless every image is in the target bucket.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import services
from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.events import publish_finished
from chalicelib.extract import extract_frame
from chalicelib.model import FORMATS, Task
from chalicelib.planning import plan_times
from chalicelib.probe import probe
from chalicelib.settings import Settings, get_settings
from chalicelib.sizing import output_size

log = logging.getLogger(__name__)
MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
DENIED = {"403", "AccessDenied", "Forbidden"}


def output_key(task: Task, index: int) -> str:
    """{destKeyPrefix}-{taskID}-{NNNN}.{format}, NNNN counted from 0001 in time order."""
    target = task.spec.target
    return f"{target.destKeyPrefix}-{task.taskID}-{index:04d}.{target.format}"


def handle_event(event: dict[str, Any]) -> dict[str, Any]:
    """The worker Lambda's entry point (also run in process by the local stack)."""
    task = run_task(event["taskID"], get_settings())
    return {"taskID": event["taskID"], "status": task.status if task else "SKIPPED"}


def run_task(task_id: str, settings: Settings) -> Task | None:
    """Runs one task once; None when another worker holds it or it has already ended."""
    store = services.get_store()
    task = store.claim(task_id, lease_seconds=settings.task_timeout_seconds + 60)
    if task is None:
        log.info("task %s is not claimable; another invocation has it", task_id)
        return None
    error: ErrorCode | None = None
    keys: list[str] = []
    try:
        keys = _produce(task, settings)
    except TaskFailed as exc:
        log.warning("task %s failed: %s", task_id, exc)
        error = exc.code
    except Exception:  # a bug must still end the task, never leave it RUNNING
        log.exception("task %s failed unexpectedly", task_id)
        error = ErrorCode.INTERNAL
    finished = store.finish(task_id, int(error) if error is not None else None, keys)
    if finished is not None:
        _announce(finished)
    return finished


def _announce(task: Task) -> None:
    """Tells the world a task ended; these hooks never raise, so the recorded result stands."""
    publish_finished(task)
    delivery = services.get_delivery()
    if delivery is not None:
        delivery.enqueue(task)


def _check_source(s3: Any, bucket: str, key: str) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in MISSING:
            raise TaskFailed(ErrorCode.SOURCE_NOT_FOUND, f"s3://{bucket}/{key} does not exist") from exc
        if code in DENIED:
            raise TaskFailed(ErrorCode.SOURCE_ACCESS_DENIED, f"s3://{bucket}/{key} is not readable") from exc
        raise


def _produce(task: Task, settings: Settings) -> list[str]:
    deadline = time.monotonic() + settings.task_timeout_seconds
    spec = task.spec
    s3 = services.client("s3")
    _check_source(s3, spec.source.bucket, spec.source.key)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": spec.source.bucket, "Key": spec.source.key},
                                    ExpiresIn=settings.presign_seconds)

    def budget() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TaskFailed(ErrorCode.TIMED_OUT, "the task ran out of time")
        return min(settings.ffmpeg_timeout_seconds, left)

    info = probe(url, budget())
    rule = spec.rule
    times = plan_times(rule.mode, rule.startTimeInSecond, rule.endTimeInSecond, rule.count, info.duration)
    size = output_size(info, spec.target.widthInPixel, spec.target.heightInPixel)
    written: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=settings.extract_concurrency) as pool:
            images = pool.map(lambda t: extract_frame(url, t, rule.keyFrame, size, spec.target.format, budget()),
                              times)
            # Each image goes up as soon as it is out, so memory holds a few images, not `count`.
            for index, image in enumerate(images, start=1):
                written.append(_put(s3, task, index, image))
    except BaseException:
        _remove(s3, task.spec.target.destBucket, written)
        raise
    return written


def _put(s3: Any, task: Task, index: int, image: bytes) -> str:
    target = task.spec.target
    key = output_key(task, index)
    try:
        s3.put_object(Bucket=target.destBucket, Key=key, Body=image, ContentType=FORMATS[target.format])
    except (ClientError, BotoCoreError) as exc:
        raise TaskFailed(ErrorCode.OUTPUT_WRITE_FAILED, f"writing s3://{target.destBucket}/{key} failed: {exc}") \
            from exc
    return key


def _remove(s3: Any, bucket: str, keys: list[str]) -> None:
    """Takes back the images of a task that fails, so no half set is left behind."""
    for key in keys:
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError):
            log.warning("could not remove partial output s3://%s/%s", bucket, key)
