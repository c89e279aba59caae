"""The hand-written IAM policies grant exactly what each function needs, per stage, and no more.

Read from .chalice/ as Chalice reads them (config.json names one policy file per
function and stage); the expected grants are spelled out here, so any widening of a
policy has to be made twice, on purpose.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import app
from chalicelib.settings import load_settings
from chalicelib.store import REGION_INDEX
from chalicelib.triggers import parse_triggers

CHALICE_DIR = Path(__file__).resolve().parents[1] / ".chalice"
CONFIG = json.loads((CHALICE_DIR / "config.json").read_text())
STAGES = sorted(CONFIG["stages"])
LOGS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def expected_grants(stage: str) -> dict[str, set[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """Per function: the (actions, resources) pairs its policy must allow, and nothing else."""
    env = CONFIG["stages"][stage]["environment_variables"]
    table = f"arn:aws:dynamodb:*:*:table/{env['MPS_TABLE_NAME']}"
    worker = f"arn:aws:lambda:*:*:function:{env['MPS_WORKER_FUNCTION']}"
    prefix = f"mps-thumbnail-{stage}"

    def logs(function: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return LOGS, (f"arn:aws:logs:*:*:log-group:/aws/lambda/{function}:*",)

    def queue(name: str) -> tuple[str, ...]:
        return (f"arn:aws:sqs:*:*:{name}",)

    return {
        "api_handler": {
            logs(prefix),
            (("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"), (table,)),
            (("dynamodb:Query",), (f"{table}/index/{REGION_INDEX}",)),
            (("lambda:InvokeFunction",), (worker,)),
        },
        "worker": {
            logs(f"{prefix}-worker"),
            (("dynamodb:GetItem", "dynamodb:UpdateItem"), (table,)),
            (("s3:GetObject",), (f"arn:aws:s3:::{prefix}-videos/*",)),
            (("s3:ListBucket",), (f"arn:aws:s3:::{prefix}-videos",)),
            (("s3:DeleteObject", "s3:PutObject"), (f"arn:aws:s3:::{prefix}-thumbnails/*",)),
            (("events:PutEvents",), ("arn:aws:events:*:*:event-bus/default",)),
            (("sqs:SendMessage",), queue(env["MPS_NOTIFY_QUEUE"])),
            (("sqs:SendMessage",), queue(f"{prefix}-dead-letters")),
        },
        "triggers": {
            logs(f"{prefix}-triggers"),
            (("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"), (table,)),
            (("lambda:InvokeFunction",), (worker,)),
            (("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"), queue(env["MPS_UPLOAD_QUEUE"])),
        },
        "notify": {
            logs(f"{prefix}-notify"),
            (("dynamodb:GetItem", "dynamodb:UpdateItem"), (table,)),
            (("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"),
             queue(env["MPS_NOTIFY_QUEUE"])),
        },
    }


def _as_tuple(value: str | list[str]) -> tuple[str, ...]:
    return tuple(sorted([value] if isinstance(value, str) else value))


def policy(stage: str, function: str) -> dict[str, Any]:
    name = CONFIG["stages"][stage]["lambda_functions"][function]["iam_policy_file"]
    return json.loads((CHALICE_DIR / name).read_text())


def grants(document: dict[str, Any]) -> set[tuple[tuple[str, ...], tuple[str, ...]]]:
    found = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, "no NotAction, NotResource or conditions"
        found.add((_as_tuple(statement["Action"]), _as_tuple(statement["Resource"])))
    return found


def test_every_function_has_its_own_policy_in_every_stage() -> None:
    functions = {"api_handler"} | {f.name for f in app.pure_lambda_functions} | {e.name for e in app.event_sources}
    assert CONFIG["autogen_policy"] is False
    for stage in STAGES:
        configured = CONFIG["stages"][stage]["lambda_functions"]
        assert set(configured) == functions, stage
        files = [configured[function]["iam_policy_file"] for function in functions]
        assert len(set(files)) == len(files)
        assert all(stage in name and (CHALICE_DIR / name).is_file() for name in files)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", ["api_handler", "worker", "triggers", "notify"])
def test_policy_grants_exactly_what_the_function_needs(stage: str, function: str) -> None:
    assert grants(policy(stage, function)) == expected_grants(stage)[function]


@pytest.mark.parametrize("stage", STAGES)
def test_no_wildcard_actions_and_no_wildcard_resources_for_data(stage: str) -> None:
    for function in CONFIG["stages"][stage]["lambda_functions"]:
        for actions, resources in grants(policy(stage, function)):
            assert all("*" not in action for action in actions), (function, actions)
            if any(action.split(":")[0] in ("s3", "dynamodb", "sqs", "lambda") for action in actions):
                for resource in resources:
                    assert resource != "*" and not resource.endswith(":*") and resource.split(":")[-1] != "*"
                    assert stage in resource, (function, resource)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_settings_fit_the_policies(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What config.json tells the app matches what the policies allow."""
    for name, value in {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    functions = CONFIG["stages"][stage]["lambda_functions"]
    assert settings.dispatch_mode == "lambda"
    assert settings.table_name == f"mps-thumbnail-{stage}-tasks"
    assert settings.worker_function == f"mps-thumbnail-{stage}-worker"
    assert functions["worker"]["lambda_timeout"] > settings.task_timeout_seconds > settings.ffmpeg_timeout_seconds
    worker_grants = grants(policy(stage, "worker"))
    readable = {r for actions, resources in worker_grants if "s3:GetObject" in actions for r in resources}
    writable = {r for actions, resources in worker_grants if "s3:PutObject" in actions for r in resources}
    triggers = parse_triggers(CONFIG["stages"][stage]["environment_variables"]["MPS_TRIGGERS"],
                              settings.aws_region, settings.max_count)
    assert triggers, "each stage shows a trigger"
    for trigger in triggers:
        assert f"arn:aws:s3:::{trigger.bucket}/*" in readable
        assert f"arn:aws:s3:::{trigger.target['destBucket']}/*" in writable
