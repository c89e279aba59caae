"""Fixtures: the local stack (AWS emulator and API on loopback) and generated test videos."""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.emulator import Emulator
from local.stack import LocalStack
from tests.videos import TestVideo, make_video

# The S3 triggers of the session's stack (tests/test_triggers.py uses them).
WATCHED = "trigger-uploads"
THUMBNAILS = "trigger-thumbnails"
ARCHIVE = "trigger-archive"
REGION = "triggered"
TRIGGERS: list[dict[str, Any]] = [
    {"bucket": WATCHED, "prefix": "in/", "suffix": ".mp4", "regionId": REGION,
     "rule": {"mode": "multi", "startTimeInSecond": 1, "endTimeInSecond": 3, "count": 2},
     "target": {"destBucket": THUMBNAILS, "format": "jpg"}},
    # Watches where the first trigger writes: its thumbnails must not start tasks here.
    {"bucket": THUMBNAILS, "regionId": REGION, "target": {"destBucket": ARCHIVE}},
]

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "files"


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The local stack for the whole session: emulator and API on free loopback ports.

    Notification retries run 20 times faster than in production so that tests see several.
    """
    os.environ["MPS_NOTIFY_DELAY_SCALE"] = "0.05"
    os.environ["MPS_NOTIFY_TIMEOUT"] = "1"
    with LocalStack(api_port=0, emulator_port=0, triggers=TRIGGERS) as running:
        yield running


@pytest.fixture(scope="session")
def emulator(stack: LocalStack) -> Emulator:
    return stack.emulator


@pytest.fixture(scope="session")
def s3(emulator: Emulator):  # noqa: ANN201
    return emulator.client("s3")


@pytest.fixture()
def bucket(s3) -> str:  # noqa: ANN001
    """A fresh, empty bucket in the emulator."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def numbered_video(video_dir: Path) -> TestVideo:
    """4 s at 25 fps, 320x240, keyframe every second, B-frames on."""
    return make_video(video_dir / "numbered.mp4")


@pytest.fixture(scope="session")
def url_of(s3) -> Callable[[Path], str]:  # noqa: ANN001
    """Uploads a local file into a session bucket and gives a presigned URL of it, as the worker makes."""
    bucket = "presigned-media"
    s3.create_bucket(Bucket=bucket)
    return lambda path: presigned_url(s3, bucket, upload(s3, bucket, path))


def upload(s3, bucket: str, path: Path, key: str | None = None) -> str:  # noqa: ANN001
    """Puts a local file into the emulator and returns its key."""
    key = key or path.name
    s3.upload_file(str(path), bucket, key)
    return key


def presigned_url(s3, bucket: str, key: str) -> str:  # noqa: ANN001
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)


class Api:
    """A plain HTTP client of the local stack's API, as any JD Cloud client would call it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def create(self, region: str, body: Any) -> requests.Response:
        return self.http.post(f"{self.base_url}/v1/regions/{region}/thumbnail", data=json.dumps(body),
                              headers={"Content-Type": "application/json"}, timeout=30)

    def get(self, region: str, task_id: str) -> requests.Response:
        return self.http.get(f"{self.base_url}/v1/regions/{region}/thumbnail/{task_id}", timeout=30)

    def list(self, region: str, query: str = "") -> requests.Response:
        return self.http.get(f"{self.base_url}/v1/regions/{region}/thumbnail?{query}", timeout=30)

    def create_ok(self, region: str, body: Any) -> str:
        response = self.create(region, body)
        assert response.status_code == 200, response.text
        return response.json()["result"]["thumbnailTaskID"]["taskID"]

    def wait(self, region: str, task_id: str, timeout: float = 120) -> dict[str, Any]:
        """Polls getThumbnailTask until the task ends; returns the ThumbnailTask."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.get(region, task_id).json()["result"]["thumbnailTask"]
            if task["status"] in ("SUCCESS", "ERROR"):
                return task
            assert time.monotonic() < deadline, f"task {task_id} still {task['status']} after {timeout} s"
            time.sleep(0.1)


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Api:
    return Api(stack.api_url)


@pytest.fixture()
def region() -> str:
    """A region no other test uses, so listings see only this test's tasks."""
    return f"test-{uuid.uuid4().hex[:10]}"
