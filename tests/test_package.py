"""The deployment package as `make package` builds it (one build per session: it is slow).

ffmpeg runs from a read-only extraction of deployment.zip, the package fits Lambda's
size limit with room to spare, and the merged template is lint-clean, transforms
with SAM and agrees with config.json, the store and the policies.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.store import EXPIRY_ATTRIBUTE, table_definition

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGE = "dev"
LAMBDA_UNZIPPED_LIMIT = 262_144_000
HEADROOM = 50_000_000  # room for a dependency to grow before the limit bites
# `chalice deploy` sends the zip in the CreateFunction call itself, which takes at most 50 MiB
# (`chalice package` goes through S3 and has only the unzipped limit).
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of the `make package` command for the dev stage."""
    out = tmp_path_factory.mktemp("package") / "out"
    # The stage's environment must come from config.json alone, not from the local stack's.
    env = {name: value for name, value in os.environ.items() if not name.startswith("MPS_")}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    built = subprocess.run([str(BIN / "chalice"), "package", "--stage", STAGE, "--merge-template",
                            "infra/template.json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


@pytest.fixture(scope="session")
def template(package: Path) -> dict[str, Any]:
    return json.loads((package / "sam.json").read_text())


def _staged(value: Any) -> Any:
    """A template value with Fn::Sub ${Stage} resolved, as CloudFormation would for this stage."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"].replace("${Stage}", STAGE)
    return value


def _extract_like_lambda(archive: Path, dest: Path) -> None:
    """Unzips with the modes recorded in the zip, as Lambda does."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = zf.extract(info, dest)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                os.chmod(path, stat.S_IMODE(mode))


def _read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _in_read_only_mount(folder: Path, command: list[str]) -> list[str]:
    """Root ignores file modes, so for root the folder is also bind-mounted read-only around the command."""
    if os.geteuid() != 0:
        return command
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without mount namespaces: a folder cannot be made read-only")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(folder), *command]


@pytest.fixture()
def lambda_dirs() -> Iterator[tuple[Path, Path]]:
    """A code folder and a scratch folder standing in for /var/task and /tmp."""
    code, scratch = Path(tempfile.mkdtemp(prefix="task-")), Path(tempfile.mkdtemp(prefix="tmp-"))
    yield code, scratch
    for folder in (code, scratch):
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
        shutil.rmtree(folder)


LOOKUP = """
import json, os, subprocess
import app  # the handlers import with nothing but the package: no dev-only dependency slipped in
import imageio_ffmpeg
from chalicelib.binary import bundled_ffmpeg, runnable
try:
    imageio_ffmpeg.get_ffmpeg_exe()
    imageio_finds_it = True
except RuntimeError:
    imageio_finds_it = False
bundled = bundled_ffmpeg()
exe = runnable(bundled)
try:
    open(os.path.join(os.path.dirname(bundled), "written"), "w").close()
    code_writable = True
except OSError:
    code_writable = False
version = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60)
print(json.dumps({"bundled": bundled, "exe": exe, "again": runnable(bundled), "code_writable": code_writable,
                  "bundled_executable": os.access(bundled, os.X_OK), "imageio_finds_it": imageio_finds_it,
                  "version": version.stdout.splitlines()[0] if version.stdout else version.stderr}))
"""


def test_ffmpeg_runs_from_a_read_only_package(package: Path, lambda_dirs: tuple[Path, Path]) -> None:
    code, scratch = lambda_dirs
    _extract_like_lambda(package / "deployment.zip", code)
    _read_only(code)
    # -S: nothing from this venv, only the package and the standard library, as on Lambda.
    command = _in_read_only_mount(code, [sys.executable, "-S", "-c", LOOKUP])
    run = subprocess.run(command, cwd=code, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(code), "TMPDIR": str(scratch), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["bundled"].startswith(str(code) + os.sep)
    assert not found["code_writable"]
    # chalice package zips the binary without its execute bit...
    assert not found["bundled_executable"]
    # ...so imageio's lookup, which runs its candidate, finds nothing (hence binary.bundled_ffmpeg)...
    assert not found["imageio_finds_it"]
    # ...and runnable() hands out an executable copy under the temp dir, the same one every time.
    assert found["exe"].startswith(str(scratch) + os.sep)
    assert found["again"] == found["exe"]
    assert found["version"].startswith("ffmpeg version"), found["version"]


def test_unzipped_package_fits_lambda_with_room_to_spare(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        unzipped = sum(info.file_size for info in zf.infolist())
    print(f"deployment.zip unzips to {unzipped:,} bytes (limit {LAMBDA_UNZIPPED_LIMIT:,})")
    assert unzipped < LAMBDA_UNZIPPED_LIMIT - HEADROOM, f"{unzipped:,} bytes unzipped leaves too little room"


def test_zip_is_small_enough_for_chalice_deploy(package: Path) -> None:
    zipped = (package / "deployment.zip").stat().st_size
    print(f"deployment.zip is {zipped:,} bytes (chalice deploy limit {DIRECT_UPLOAD_LIMIT:,})")
    assert zipped < DIRECT_UPLOAD_LIMIT, (
        f"deployment.zip is {zipped:,} bytes: `chalice deploy` cannot upload it (the CloudFormation path still "
        "can). The biggest parts are imageio-ffmpeg, botocore and numpy; only the tests need numpy.")


def test_template_has_no_lint_errors(package: Path) -> None:
    lint = subprocess.run([str(BIN / "cfn-lint"), str(package / "sam.json")], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode & 2 == 0, lint.stdout + lint.stderr  # bit 2: errors (4 warnings, 8 informational)


def test_sam_puts_iam_auth_on_every_route(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))  # SAM asks boto3

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    uploaded = json.loads(json.dumps(template))
    for resource in uploaded["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":  # as `aws cloudformation package` rewrites it
            resource["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"
    body = transform(uploaded, {"Stage": STAGE}, NoManagedPolicies())["Resources"]["RestAPI"]["Properties"]["Body"]
    methods = [(path, method, spec) for path, item in body["paths"].items() for method, spec in item.items()]
    assert len(methods) >= 3
    for path, method, spec in methods:
        assert spec.get("security") == [{"sigv4": []}], f"{method.upper()} {path} is not IAM-authorized"
    assert body["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_a_stage_that_checks_jdcloud_signatures_has_no_iam_auth() -> None:
    """MPS_API_AUTH=jdcloud in a stage's environment leaves the routes to the app's own check."""
    script = "import app, json; print(json.dumps([type(r.authorizer).__name__ for m in app.app.routes.values() " \
             "for r in m.values()]))"
    for setting, expected in (("jdcloud", "NoneType"), ("iam", "IAMAuthorizer")):
        run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={**os.environ, "MPS_API_AUTH": setting})
        assert set(json.loads(run.stdout)) == {expected}


def test_table_mirrors_the_store(template: dict[str, Any]) -> None:
    table = template["Resources"]["TaskTable"]
    props = table["Properties"]
    name = _staged(props["TableName"])
    expected = table_definition(name)
    assert {key: (name if key == "TableName" else value) for key, value in props.items() if key in expected} == expected
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": EXPIRY_ATTRIBUTE, "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"
    for function in ("APIHandler", "Worker", "Triggers", "Notify"):
        assert template["Resources"][function]["Properties"]["Environment"]["Variables"]["MPS_TABLE_NAME"] == name


def test_functions_and_queues_agree(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    worker = resources["Worker"]["Properties"]
    env = worker["Environment"]["Variables"]
    # Lambda kills the worker at Timeout: the task must give up first, and each ffmpeg run before that.
    assert worker["Timeout"] > float(env["MPS_TASK_TIMEOUT"]) > float(env["MPS_FFMPEG_TIMEOUT"]) > 0
    assert int(env["MPS_PRESIGN_SECONDS"]) >= float(env["MPS_TASK_TIMEOUT"])
    assert worker["EphemeralStorage"]["Size"] >= 1024
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "WorkerReservedConcurrency"}
    for function in ("APIHandler", "Triggers"):
        assert resources[function]["Properties"]["Environment"]["Variables"]["MPS_WORKER_FUNCTION"] == \
            _staged(worker["FunctionName"])
    invoke = resources["WorkerInvokeConfig"]["Properties"]
    assert invoke["FunctionName"] == {"Ref": "Worker"} and invoke["Qualifier"] == "$LATEST"
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2 and 60 <= invoke["MaximumEventAgeInSeconds"] <= 21600
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    # Each SQS handler reads the queue the template creates, one that outlasts its runs.
    for function, queue in (("Triggers", "UploadQueue"), ("Notify", "NotifyQueue")):
        props = resources[function]["Properties"]
        (source,) = props["Events"].values()
        arn = source["Properties"]["Queue"]["Fn::Sub"]
        assert arn.rsplit(":", 1)[1] == _staged(resources[queue]["Properties"]["QueueName"]), function
        assert resources[queue]["Properties"]["VisibilityTimeout"] >= props["Timeout"]
