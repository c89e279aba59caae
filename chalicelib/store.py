"""The task table: the one place that knows its layout in DynamoDB.

Layout: partition key `taskID`; the index `byRegion` (partition `regionId`, sort
`taskID`) serves listing newest first, because task IDs start with their creation
time. Status moves PENDDING -> RUNNING -> SUCCESS | ERROR by conditional writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib.errors import NotFound
from chalicelib.model import (
    ERROR,
    PENDING,
    RUNNING,
    SUCCESS,
    TASK_ID_PATTERN,
    Rule,
    Source,
    Target,
    Task,
    TaskSpec,
    format_time,
    now_ms,
)

REGION_INDEX = "byRegion"
# Region settings share the table under keys no task ID can take; they carry no regionId
# attribute, so the region index never lists them.
NOTIFICATION_KEY = "notification:{}"
NONCE_KEY = "nonce:{}"
EXPIRY_ATTRIBUTE = "expiresAt"
_CONDITION_FAILED = "ConditionalCheckFailedException"


class TaskExists(Exception):
    """A task with that ID is already recorded (the conditional put failed)."""


@dataclass(frozen=True)
class Page:
    """One page of a listing; next_marker is None on the last page."""

    tasks: list[Task]
    next_marker: str | None


def table_definition(name: str) -> dict[str, Any]:
    """The CreateTable arguments; the infrastructure template mirrors them."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "taskID", "AttributeType": "S"},
            {"AttributeName": "regionId", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "taskID", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": REGION_INDEX,
            "KeySchema": [
                {"AttributeName": "regionId", "KeyType": "HASH"},
                {"AttributeName": "taskID", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }],
    }


def create_table(dynamodb: Any, name: str) -> None:
    """Creates the table if it is missing (local stack and tests)."""
    client = dynamodb.meta.client
    try:
        client.create_table(**table_definition(name))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=name)


def _plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; the API speaks ints."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _to_item(task: Task, expires_at: int) -> dict[str, Any]:
    api = task.to_api()
    target = api["target"]
    item: dict[str, Any] = {
        "taskID": task.taskID,
        "regionId": task.regionId,
        "status": task.status,
        "createdTime": task.createdTime,
        "lastUpdatedTime": task.lastUpdatedTime,
        "source": api["source"],
        "target": {name: value for name, value in target.items() if name != "keys"},
        "rule": api["rule"],
        "keys": target["keys"],
        EXPIRY_ATTRIBUTE: expires_at,
    }
    if task.trigger:
        item["trigger"] = task.trigger
    return item


def _from_item(raw: dict[str, Any]) -> Task:
    item = _plain(raw)
    spec = TaskSpec(
        source=Source(**item["source"]),
        target=Target(**item["target"], keys=tuple(item.get("keys", ()))),
        rule=Rule(**item["rule"]),
    )
    return Task(taskID=item["taskID"], regionId=item["regionId"], spec=spec, status=item["status"],
                errorCode=item.get("errorCode"), createdTime=item["createdTime"],
                lastUpdatedTime=item["lastUpdatedTime"], trigger=item.get("trigger"))


class TaskStore:
    """Task records in one DynamoDB table, handed its boto3 Table resource."""

    def __init__(self, table: Any, retention_days: int = 90) -> None:
        self._table = table
        self._retention_ms = retention_days * 86_400_000

    def put_new(self, task: Task) -> None:
        """Records a new task; raises TaskExists if the ID is taken."""
        expires_at = (now_ms() + self._retention_ms) // 1000
        try:
            self._table.put_item(Item=_to_item(task, expires_at),
                                 ConditionExpression=Attr("taskID").not_exists())
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _CONDITION_FAILED:
                raise TaskExists(task.taskID) from exc
            raise

    def delete_pending(self, task_id: str) -> None:
        """Removes a task that never reached a worker, so no half-made task stays listed."""
        try:
            self._table.delete_item(Key={"taskID": task_id}, ConditionExpression=Attr("status").eq(PENDING))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != _CONDITION_FAILED:
                raise

    def get(self, task_id: str, region_id: str | None = None) -> Task:
        """The task, or NotFound (also when it belongs to another region, or the key holds no task)."""
        raw = None
        if TASK_ID_PATTERN.match(task_id):  # notification settings and nonces live under other keys
            raw = self._table.get_item(Key={"taskID": task_id}, ConsistentRead=True).get("Item")
        if raw is None or (region_id is not None and raw["regionId"] != region_id):
            raise NotFound(f"thumbnail task {task_id} not found")
        return _from_item(raw)

    def claim(self, task_id: str, lease_seconds: float) -> Task | None:
        """Moves a task to RUNNING for one worker; None if another worker holds it or it has ended.

        A RUNNING task whose lease has run out (its worker died) can be claimed again.
        """
        now = now_ms()
        try:
            result = self._table.update_item(
                Key={"taskID": task_id},
                UpdateExpression="SET #s = :running, lastUpdatedTime = :t, leaseUntil = :lease",
                ConditionExpression=Attr("taskID").exists() & (
                    Attr("status").eq(PENDING) | (Attr("status").eq(RUNNING) & Attr("leaseUntil").lt(now))),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":running": RUNNING, ":t": format_time(now),
                                           ":lease": now + int(lease_seconds * 1000)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _CONDITION_FAILED:
                return None
            raise
        return _from_item(result["Attributes"])

    def finish(self, task_id: str, error_code: int | None, keys: list[str]) -> Task | None:
        """Ends a RUNNING task in SUCCESS (no error code) or ERROR; None if it was not RUNNING."""
        values: dict[str, Any] = {":t": format_time(now_ms()),
                                  ":status": SUCCESS if error_code is None else ERROR, ":keys": keys}
        update = "SET #s = :status, lastUpdatedTime = :t, #k = :keys REMOVE leaseUntil"
        if error_code is not None:
            update = "SET #s = :status, lastUpdatedTime = :t, #k = :keys, errorCode = :code REMOVE leaseUntil"
            values[":code"] = error_code
        try:
            result = self._table.update_item(
                Key={"taskID": task_id}, UpdateExpression=update,
                ConditionExpression=Attr("status").eq(RUNNING),
                ExpressionAttributeNames={"#s": "status", "#k": "keys"},
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _CONDITION_FAILED:
                return None
            raise
        return _from_item(result["Attributes"])

    def list(self, region_id: str, *, low: str, high: str, statuses: tuple[str, ...] = (),
             marker: str | None = None, limit: int = 1000) -> Page:
        """Tasks of a region, newest first, with task IDs in [low, high] and before `marker`.

        A query of the region index, never a scan; a status filter may need several reads.
        """
        if marker is not None:
            high = min(high, marker)
        condition = Key("regionId").eq(region_id) & Key("taskID").between(low, high)
        query: dict[str, Any] = {"IndexName": REGION_INDEX, "KeyConditionExpression": condition,
                                 "ScanIndexForward": False}
        if statuses:
            query["FilterExpression"] = Attr("status").is_in(list(statuses))
        found: list[Task] = []
        while len(found) <= limit:
            response = self._table.query(Limit=limit + 1, **query)
            found.extend(_from_item(item) for item in response["Items"] if item["taskID"] != marker)
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if len(found) > limit:
            return Page(found[:limit], found[limit - 1].taskID)
        return Page(found, None)

    def put_notification(self, region_id: str, settings: dict[str, Any]) -> None:
        self._table.put_item(Item={"taskID": NOTIFICATION_KEY.format(region_id), "settings": settings})

    def get_notification(self, region_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"taskID": NOTIFICATION_KEY.format(region_id)},
                                    ConsistentRead=True).get("Item")
        return _plain(item["settings"]) if item else None

    def was_notified(self, task_id: str) -> bool:
        item = self._table.get_item(Key={"taskID": task_id}, ProjectionExpression="notifiedAt",
                                    ConsistentRead=True).get("Item")
        return bool(item and "notifiedAt" in item)

    def mark_notified(self, task_id: str) -> bool:
        """Records the one successful delivery; False if one was already recorded."""
        try:
            self._table.update_item(Key={"taskID": task_id}, UpdateExpression="SET notifiedAt = :t",
                                    ConditionExpression=Attr("taskID").exists() & Attr("notifiedAt").not_exists(),
                                    ExpressionAttributeValues={":t": format_time(now_ms())})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True


class NonceTable:
    """Request nonces seen, in the task table, so replays are refused across Lambda containers."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def remember(self, nonce: str, expires_at: float) -> bool:
        """False if the nonce is already recorded and not yet expired."""
        now = now_ms() // 1000
        try:
            self._table.put_item(
                Item={"taskID": NONCE_KEY.format(nonce), EXPIRY_ATTRIBUTE: int(expires_at) + 1},
                ConditionExpression=Attr("taskID").not_exists() | Attr(EXPIRY_ATTRIBUTE).lt(now))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True
