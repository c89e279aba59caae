"""Fixtures: the AWS emulator on loopback and generated test videos."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.emulator import Emulator
from tests.videos import TestVideo, make_video

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "files"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One moto server for the whole session, on a free loopback port."""
    emu = Emulator(port=0).start()
    yield emu
    emu.stop()


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
