"""Fixtures: the local stack (AWS emulator and API on loopback) and generated test videos."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.emulator import Emulator
from local.stack import LocalStack
from tests.videos import TestVideo, make_video

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "files"


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The local stack for the whole session: emulator and API on free loopback ports."""
    with LocalStack(api_port=0, emulator_port=0) as running:
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
