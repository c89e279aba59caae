"""The whole path: HTTP request -> task in the emulator's DynamoDB -> worker -> ffmpeg on the
presigned URL -> images in the emulator's S3, read back and checked frame by frame."""
from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import ErrorCode
from chalicelib.ffmpeg import ffmpeg_exe
from chalicelib.model import Task, format_time, new_task_id, now_ms
from chalicelib.services import get_store
from chalicelib.validation import parse_task_spec
from chalicelib.worker import handle_event
from local.rangeserver import RangeServer
from tests.conftest import SHARED_MEDIA, Api, upload
from tests.test_shared_media import DECODABLE, FAILING
from tests.videos import TestVideo, image_size, make_video, read_frame_number


def run(api: Api, s3: Any, bucket: str, region: str, key: str, rule: dict[str, Any],
        target: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"source": {"bucket": bucket, "key": key},
            "target": {"destBucket": bucket, "destKeyPrefix": "out/thumb", **(target or {})}, "rule": rule}
    return api.wait(region, api.create_ok(region, body))


def images(s3: Any, bucket: str, task: dict[str, Any]) -> list[bytes]:
    assert task["status"] == "SUCCESS", task
    return [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in task["target"]["keys"]]


@pytest.fixture()
def numbered(s3: Any, bucket: str, numbered_video: TestVideo) -> str:
    return upload(s3, bucket, numbered_video.path, "in/numbered video.mp4")


# (rule, planned times on the 4 s numbered video)
EXACT_CASES = [
    ({"mode": "single", "startTimeInSecond": 1}, [1.0]),
    ({"mode": "multi", "startTimeInSecond": 1, "endTimeInSecond": 3, "count": 4}, [1.0, 1.5, 2.0, 2.5]),
    ({"mode": "multi", "startTimeInSecond": 2, "count": 3}, [2.0, 2 + 2 / 3, 2 + 4 / 3]),
    ({"mode": "average", "count": 3}, [4 / 6, 2.0, 4 * 5 / 6]),
]


@pytest.mark.parametrize("rule, times", EXACT_CASES, ids=[c[0]["mode"] + str(i) for i, c in enumerate(EXACT_CASES)])
@pytest.mark.parametrize("key_frame", [False, True])
def test_each_image_is_the_planned_frame(api: Api, s3: Any, bucket: str, region: str, numbered: str,
                                         numbered_video: TestVideo, rule: dict[str, Any], times: list[float],
                                         key_frame: bool) -> None:
    task = run(api, s3, bucket, region, numbered, {**rule, "keyFrame": key_frame}, {"format": "png"})
    got = [read_frame_number(image) for image in images(s3, bucket, task)]
    pick = numbered_video.keyframe_at_or_before if key_frame else numbered_video.frame_shown_at
    assert got == [pick(t) for t in times]


def test_output_keys_content_types_and_the_recorded_task(api: Api, s3: Any, bucket: str, region: str,
                                                         numbered: str) -> None:
    task = run(api, s3, bucket, region, numbered, {"mode": "multi", "count": 3}, {"format": "jpg"})
    assert task["target"]["keys"] == [f"out/thumb-{task['taskID']}-{n:04d}.jpg" for n in (1, 2, 3)]
    for key in task["target"]["keys"]:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == "image/jpeg"
    assert task["errorCode"] is None
    assert task["lastUpdatedTime"] >= task["createdTime"]
    listed = {k["Key"] for k in s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]}
    assert listed == set(task["target"]["keys"])


def test_default_prefix_is_the_source_key(api: Api, s3: Any, bucket: str, region: str, numbered: str) -> None:
    body = {"source": {"bucket": bucket, "key": numbered}, "target": {"destBucket": bucket, "format": "webp"}}
    task = api.wait(region, api.create_ok(region, body))
    assert task["target"]["keys"] == [f"{numbered}-{task['taskID']}-0001.webp"]
    assert s3.head_object(Bucket=bucket, Key=task["target"]["keys"][0])["ContentType"] == "image/webp"


# (target size fields, expected image size) for the 320x240 numbered video
SIZES = [
    ({}, (320, 240)),
    ({"widthInPixel": 160}, (160, 120)),
    ({"heightInPixel": 60}, (80, 60)),
    ({"widthInPixel": 100, "heightInPixel": 100}, (100, 100)),
    ({"widthInPixel": 1280}, (320, 240)),
    ({"widthInPixel": 640, "heightInPixel": 480}, (320, 240)),
]


@pytest.mark.parametrize("size, expected", SIZES, ids=[str(s[0]) for s in SIZES])
def test_sizes(api: Api, s3: Any, bucket: str, region: str, numbered: str, size: dict[str, int],
               expected: tuple[int, int]) -> None:
    task = run(api, s3, bucket, region, numbered, {"mode": "single", "startTimeInSecond": 2}, size)
    assert [image_size(image) for image in images(s3, bucket, task)] == [expected]


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_sources_come_out_as_displayed(api: Api, s3: Any, bucket: str, region: str, video_dir: Path,
                                               rotation: int) -> None:
    video = make_video(video_dir / f"rotated{rotation}.mp4", rotation=rotation)
    key = upload(s3, bucket, video.path)
    task = run(api, s3, bucket, region, key, {"mode": "single", "startTimeInSecond": 2, "keyFrame": False},
               {"widthInPixel": 120, "format": "png"})
    [image] = images(s3, bucket, task)
    assert image_size(image) == ((120, 90) if rotation == 180 else (120, 160))
    assert read_frame_number(image, rotation) == video.frame_shown_at(2.0)


@pytest.fixture(scope="module")
def broken_sources(video_dir: Path) -> dict[str, Path]:
    audio = video_dir / "audio-only.m4a"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=2",
                    "-c:a", "aac", str(audio)], check=True)
    garbage = video_dir / "garbage.mp4"
    garbage.write_bytes(bytes(range(256)) * 400)
    return {"audio": audio, "garbage": garbage}


@pytest.mark.parametrize("source, rule, code", [
    ("missing", {"mode": "single"}, ErrorCode.SOURCE_NOT_FOUND),
    ("audio", {"mode": "single"}, ErrorCode.NO_VIDEO_STREAM),
    ("garbage", {"mode": "single"}, ErrorCode.UNDECODABLE),
    ("numbered", {"mode": "single", "startTimeInSecond": 4}, ErrorCode.TIME_OUT_OF_RANGE),
    ("numbered", {"mode": "multi", "startTimeInSecond": 2, "endTimeInSecond": 9, "count": 3},
     ErrorCode.TIME_OUT_OF_RANGE),
])
def test_failures_end_in_error_with_their_code_and_no_images(api: Api, s3: Any, bucket: str, region: str,
                                                            numbered: str, broken_sources: dict[str, Path],
                                                            source: str, rule: dict[str, Any],
                                                            code: ErrorCode) -> None:
    key = {"missing": "nothing-here.mp4", "numbered": numbered}.get(source) or upload(s3, bucket,
                                                                                      broken_sources[source])
    task = run(api, s3, bucket, region, key, rule)
    assert (task["status"], task["errorCode"], task["target"]["keys"]) == ("ERROR", int(code), [])
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount") == 0


def test_an_unwritable_target_is_output_write_failed(api: Api, s3: Any, bucket: str, region: str,
                                                     numbered: str) -> None:
    body = {"source": {"bucket": bucket, "key": numbered}, "target": {"destBucket": "no-such-bucket-here"},
            "rule": {"mode": "multi", "count": 2}}
    task = api.wait(region, api.create_ok(region, body))
    assert (task["status"], task["errorCode"], task["target"]["keys"]) == (
        "ERROR", int(ErrorCode.OUTPUT_WRITE_FAILED), [])


def test_a_worker_invoked_twice_does_the_work_once(stack: Any, s3: Any, bucket: str, region: str,
                                                   numbered: str) -> None:
    """Lambda may deliver an async event twice: one invocation claims the task, the other skips it."""
    spec = parse_task_spec({"source": {"bucket": bucket, "key": numbered},
                            "target": {"destBucket": bucket, "destKeyPrefix": "out/twice"},
                            "rule": {"mode": "average", "count": 4}}, 100)
    created = now_ms()
    task = Task(taskID=new_task_id(created), regionId=region, spec=spec, createdTime=format_time(created),
                lastUpdatedTime=format_time(created))
    get_store().put_new(task)  # recorded but not dispatched: the two invocations below are the only workers
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(handle_event({"taskID": task.taskID})))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["status"] for r in results) == ["SKIPPED", "SUCCESS"]
    objects = s3.list_objects_v2(Bucket=bucket, Prefix="out/twice")["Contents"]
    assert len(objects) == 4
    first_write = {o["Key"]: o["LastModified"] for o in objects}
    time.sleep(1.1)
    assert handle_event({"taskID": task.taskID})["status"] == "SKIPPED"
    again = s3.list_objects_v2(Bucket=bucket, Prefix="out/twice")["Contents"]
    assert {o["Key"]: o["LastModified"] for o in again} == first_write


@pytest.mark.skipif(not SHARED_MEDIA.is_dir(), reason=f"shared sample media not found at {SHARED_MEDIA}")
@pytest.mark.parametrize("name", sorted({**DECODABLE, **FAILING}))
def test_shared_media_through_the_api(api: Api, s3: Any, bucket: str, region: str, name: str) -> None:
    key = upload(s3, bucket, SHARED_MEDIA / name, f"shared/{name}")
    started = time.monotonic()
    task = run(api, s3, bucket, region, key, {"mode": "average", "count": 3, "keyFrame": False})
    assert time.monotonic() - started < 60
    if name in FAILING:
        assert (task["status"], task["errorCode"]) == ("ERROR", int(FAILING[name]))
        return
    width, height = DECODABLE[name][:2]
    got = images(s3, bucket, task)
    assert len(got) == 3
    assert {image_size(image) for image in got} == {(width, height)}
    assert all(re.fullmatch(rf"out/thumb-{task['taskID']}-000[123]\.jpg", k) for k in task["target"]["keys"])


def test_a_hostile_source_reads_nothing_but_itself(api: Api, s3: Any, bucket: str, region: str,
                                                   numbered_video: TestVideo, video_dir: Path) -> None:
    """A playlist, a concat script and an ffconcat file that point at a local file and at another URL."""
    bait = RangeServer(numbered_video.path.parent)
    try:
        elsewhere = bait.url(numbered_video.path.name)
        sources = {
            "playlist.m3u8": f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{elsewhere}\n#EXTINF:4.0,\n"
                             f"file://{numbered_video.path}\n#EXT-X-ENDLIST\n",
            "list.ffconcat": f"ffconcat version 1.0\nfile '{elsewhere}'\nfile '{numbered_video.path}'\n",
            "concat.mp4": f"concat:{numbered_video.path}|{numbered_video.path}",
        }
        for name, text in sources.items():
            path = video_dir / name
            path.write_text(text)
            started = time.monotonic()
            task = run(api, s3, bucket, region, upload(s3, bucket, path, f"hostile/{name}"), {"mode": "single"})
            assert (task["status"], task["errorCode"]) == ("ERROR", int(ErrorCode.UNDECODABLE)), name
            assert time.monotonic() - started < 30
        assert bait.bytes_sent == 0
    finally:
        bait.stop()
