"""The HTTP API against API.md: envelope, validation, defaults, get and list, over real HTTP."""
from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import Api, upload


def base_body(source_bucket: str = "in", key: str = "videos/clip.mp4", dest: str = "out") -> dict[str, Any]:
    return {"source": {"bucket": source_bucket, "key": key}, "target": {"destBucket": dest}}


def with_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """base_body with dotted paths set ('rule.mode': 'multi'); the value DELETE removes a field."""
    body = base_body()
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = body
        for name in parents:
            node = node.setdefault(name, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return body


DELETE = object()

# (changes to a valid body, the field the 400 message must name, more words it must contain)
BAD_BODIES = [
    ({"source": DELETE}, "source", "required"),
    ({"source": "s3://in/clip.mp4"}, "source", "object"),
    ({"source.bucket": DELETE}, "source.bucket", "required"),
    ({"source.key": 5}, "source.key", "string"),
    ({"source.key": ""}, "source.key", "non-empty"),
    ({"target": DELETE}, "target", "required"),
    ({"target.destBucket": DELETE}, "target.destBucket", "required"),
    ({"target.destKeyPrefix": ["a"]}, "target.destKeyPrefix", "string"),
    ({"target.format": "gif"}, "target.format", "jpg"),
    ({"target.format": 1}, "target.format", "jpg"),
    ({"target.widthInPixel": 7}, "target.widthInPixel", "[8, 4096]"),
    ({"target.widthInPixel": 4097}, "target.widthInPixel", "[8, 4096]"),
    ({"target.widthInPixel": -1}, "target.widthInPixel", "[8, 4096]"),
    ({"target.widthInPixel": "100"}, "target.widthInPixel", "integer"),
    ({"target.widthInPixel": 100.5}, "target.widthInPixel", "integer"),
    ({"target.heightInPixel": True}, "target.heightInPixel", "integer"),
    ({"target.heightInPixel": 5000}, "target.heightInPixel", "[8, 4096]"),
    ({"rule": "single"}, "rule", "object"),
    ({"rule.mode": "random"}, "rule.mode", "single"),
    ({"rule.keyFrame": "yes"}, "rule.keyFrame", "boolean"),
    ({"rule.mode": "multi", "rule.startTimeInSecond": -1}, "rule.startTimeInSecond", "0 or more"),
    ({"rule.mode": "multi", "rule.startTimeInSecond": 5, "rule.endTimeInSecond": 2},
     "rule.endTimeInSecond", "not less than"),
    ({"rule.mode": "multi", "rule.endTimeInSecond": -2}, "rule.endTimeInSecond", "-1"),
    ({"rule.mode": "multi", "rule.count": 0}, "rule.count", "[1, 100]"),
    ({"rule.mode": "multi", "rule.count": 101}, "rule.count", "[1, 100]"),
    ({"rule.mode": "multi", "rule.count": "3"}, "rule.count", "integer"),
    ({"rule.count": 3}, "rule.count", "unavailable when rule.mode is single"),
    ({"rule.endTimeInSecond": 5}, "rule.endTimeInSecond", "unavailable when rule.mode is single"),
    ({"rule.mode": "average", "rule.endTimeInSecond": 5}, "rule.endTimeInSecond",
     "unavailable when rule.mode is average"),
    ({"rule.mode": "average", "rule.startTimeInSecond": 2}, "rule.startTimeInSecond",
     "unavailable when rule.mode is average"),
]


def assert_error(response: Any, status: int, canonical: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["requestId"])
    assert response.headers["x-jdcloud-request-id"] == body["requestId"]
    assert body["error"]["code"] == status
    assert body["error"]["status"] == canonical
    for word in words:
        assert word in body["error"]["message"], body["error"]["message"]
    assert "result" not in body
    return body


@pytest.mark.parametrize("changes, field, words", BAD_BODIES, ids=[case[1] + ":" + case[2] for case in BAD_BODIES])
def test_bad_input_is_400_naming_the_field_and_records_nothing(api: Api, region: str, changes: dict[str, Any],
                                                               field: str, words: str) -> None:
    assert_error(api.create(region, with_changes(changes)), 400, "INVALID_ARGUMENT", field, words)
    assert api.list(region).json()["result"]["thumbnailQuery"]["taskList"] == []


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[]", b'"text"', b"null"])
def test_a_body_that_is_not_a_json_object_is_400(api: Api, region: str, raw: bytes) -> None:
    response = api.http.post(f"{api.base_url}/v1/regions/{region}/thumbnail", data=raw,
                             headers={"Content-Type": "application/json"})
    assert_error(response, 400, "INVALID_ARGUMENT", "body")
    assert api.list(region).json()["result"]["thumbnailQuery"]["taskList"] == []


def test_a_bad_region_is_400(api: Api) -> None:
    assert_error(api.create("Bad_Region", base_body()), 400, "INVALID_ARGUMENT", "regionId")


def test_create_answers_at_once_with_the_envelope(api: Api, region: str) -> None:
    response = api.create(region, base_body())
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"requestId", "result"}
    assert response.headers["x-jdcloud-request-id"] == body["requestId"]
    task_id = body["result"]["thumbnailTaskID"]["taskID"]
    assert re.fullmatch(r"[0-9a-f]{32}", task_id)
    assert body["result"] == {"thumbnailTaskID": {"taskID": task_id}}


def test_defaults_are_filled_in_and_the_task_reads_back(api: Api, region: str) -> None:
    task_id = api.create_ok(region, base_body())
    task = api.get(region, task_id).json()["result"]["thumbnailTask"]
    assert task["taskID"] == task_id
    assert task["status"] in ("PENDDING", "RUNNING", "SUCCESS", "ERROR")
    assert task["source"] == {"bucket": "in", "key": "videos/clip.mp4"}
    assert task["rule"] == {"mode": "single", "keyFrame": True, "startTimeInSecond": 0, "endTimeInSecond": -1,
                            "count": 1}
    assert {k: task["target"][k] for k in ("destBucket", "destKeyPrefix", "format", "widthInPixel",
                                           "heightInPixel")} == {
        "destBucket": "out", "destKeyPrefix": "videos/clip.mp4", "format": "jpg", "widthInPixel": 0,
        "heightInPixel": 0}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", task["createdTime"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", task["lastUpdatedTime"])


def test_a_body_as_the_jd_sdk_sends_it_is_accepted(api: Api, region: str) -> None:
    """Every model field present, unset ones null, readonly ones and regionId and unknown ones ignored."""
    body = {
        "regionId": region, "taskID": "forged", "status": "SUCCESS", "errorCode": 7,
        "createdTime": "2001-01-01T00:00:00.000Z", "lastUpdatedTime": None, "somethingNew": {"x": 1},
        "source": {"bucket": "in", "key": "a.mp4"},
        "target": {"destBucket": "out", "destKeyPrefix": None, "format": None, "widthInPixel": None,
                   "heightInPixel": 120, "keys": ["forged.jpg"]},
        "rule": {"mode": "multi", "keyFrame": None, "startTimeInSecond": None, "endTimeInSecond": None,
                 "count": 3},
    }
    task_id = api.create_ok(region, body)
    assert task_id != "forged"
    task = api.get(region, task_id).json()["result"]["thumbnailTask"]
    assert task["createdTime"] != "2001-01-01T00:00:00.000Z"
    assert task["target"]["destKeyPrefix"] == "a.mp4"
    assert task["target"]["heightInPixel"] == 120
    assert "forged.jpg" not in task["target"]["keys"]
    assert task["rule"] == {"mode": "multi", "keyFrame": True, "startTimeInSecond": 0, "endTimeInSecond": -1,
                            "count": 3}


def test_null_rule_and_defaults_spelled_out_are_accepted(api: Api, region: str) -> None:
    api.create_ok(region, {**base_body(), "rule": None})
    api.create_ok(region, with_changes({"rule.mode": "single", "rule.count": 1, "rule.endTimeInSecond": -1}))
    api.create_ok(region, with_changes({"rule.mode": "average", "rule.startTimeInSecond": 0, "rule.count": 100}))
    api.create_ok(region, with_changes({"target.format": "PNG", "target.widthInPixel": 8,
                                        "target.heightInPixel": 4096}))


@pytest.mark.parametrize("task_id", ["0" * 32, "not-a-task-id", "notification:{region}", "nonce:abc"])
def test_unknown_task_is_404(api: Api, region: str, task_id: str) -> None:
    """Including the keys under which the table keeps other records than tasks."""
    api.http.put(f"{api.base_url}/v1/regions/{region}/notification", json={"enabled": False})
    assert_error(api.get(region, task_id.format(region=region)), 404, "NOT_FOUND")


def test_a_task_is_invisible_from_another_region(api: Api, region: str) -> None:
    task_id = api.create_ok(region, base_body())
    assert api.get(region, task_id).status_code == 200
    assert_error(api.get(region + "x", task_id), 404, "NOT_FOUND")
    assert api.list(region + "x").json()["result"]["thumbnailQuery"]["taskList"] == []


def test_listing_pages_newest_first_without_gaps_or_repeats(api: Api, region: str) -> None:
    created = [api.create_ok(region, base_body()) for _ in range(7)]
    seen: list[str] = []
    marker = ""
    pages = 0
    while True:
        query = api.list(region, f"limit=3&marker={marker}").json()["result"]["thumbnailQuery"]
        pages += 1
        seen += [task["taskID"] for task in query["taskList"]]
        assert query["limit"] == 3
        if not query["truncated"]:
            assert query["nextMarker"] is None
            break
        assert query["nextMarker"] == seen[-1]
        marker = query["nextMarker"]
    assert pages == 3
    assert seen == list(reversed(created))


def test_listing_filters_by_status_in_both_spellings(api: Api, region: str, s3: Any, bucket: str,
                                                     numbered_video: Any) -> None:
    key = upload(s3, bucket, numbered_video.path)
    good = api.create_ok(region, base_body(bucket, key, bucket))
    bad = api.create_ok(region, base_body(bucket, "missing.mp4", bucket))
    assert api.wait(region, good)["status"] == "SUCCESS"
    assert api.wait(region, bad)["status"] == "ERROR"

    def ids(status: str) -> list[str]:
        response = api.list(region, f"status={status}")
        assert response.status_code == 200, response.text
        query = response.json()["result"]["thumbnailQuery"]
        assert query["status"] == status
        return [task["taskID"] for task in query["taskList"]]

    assert ids("SUCCESS") == [good]
    assert ids("ERROR") == ids("FAILED") == [bad]
    assert ids("PENDDING") == ids("PENDING") == ids("RUNNING") == []
    assert_error(api.list(region, "status=DONE"), 400, "INVALID_ARGUMENT", "status")


def test_listing_bounds_created_time_with_percent_encoded_times(api: Api, region: str) -> None:
    first = api.create_ok(region, base_body())
    time.sleep(0.05)
    second = api.create_ok(region, base_body())
    times = {t["taskID"]: t["createdTime"] for t in
             api.list(region).json()["result"]["thumbnailQuery"]["taskList"]}
    assert times[first] < times[second]

    def ids(query: str) -> list[str]:
        response = api.list(region, query)
        assert response.status_code == 200, response.text
        return [task["taskID"] for task in response.json()["result"]["thumbnailQuery"]["taskList"]]

    encode = lambda text: text.replace(":", "%3A")  # noqa: E731 - as the JD SDK sends it
    assert ids(f"begin={encode(times[second])}") == [second]
    assert ids(f"end={encode(times[first])}") == [first]
    assert ids(f"begin={encode(times[first])}&end={encode(times[second])}") == [second, first]
    assert ids("begin=2000-01-01T00%3A00%3A00.000Z&end=2000-01-02T00%3A00%3A00.000Z") == []
    body = api.list(region, f"begin={encode(times[first])}").json()["result"]["thumbnailQuery"]
    assert body["begin"] == times[first]


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("begin=yesterday", "begin"),
    ("end=2024-13-01T00%3A00%3A00.000Z", "end"), ("marker=../../etc", "marker"),
    ("begin=2024-02-01T00%3A00%3A00.000Z&end=2024-01-01T00%3A00%3A00.000Z", "end"),
])
def test_bad_list_queries_are_400_naming_the_parameter(api: Api, region: str, query: str, field: str) -> None:
    assert_error(api.list(region, query), 400, "INVALID_ARGUMENT", field)


def test_listing_defaults(api: Api, region: str) -> None:
    query = api.list(region).json()["result"]["thumbnailQuery"]
    assert query == {"begin": None, "end": None, "limit": 1000, "marker": None, "nextMarker": None,
                     "status": None, "taskList": [], "truncated": False}
