"""The whole service on one machine: emulator, API and in-process worker.

`python -m local.stack` (what `make serve` runs) serves in the foreground until
interrupted; tests and the demo start it in process with free ports.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import warnings

import boto3
from chalice.config import Config
from chalice.local import LocalDevServer, create_local_server

from app import NOTIFY_QUEUE, app, deliver_notifications, start_triggered_tasks
from chalicelib import services
from chalicelib.settings import get_settings
from chalicelib.store import create_table
from chalicelib.triggers import configured_triggers
from local.emulator import Emulator
from local.queues import QueuePoller
from local.triggers import TriggerFeed, start_triggers

log = logging.getLogger(__name__)
# API Gateway's IAM auth has no local equivalent; the local stack checks JD Cloud
# signatures instead when MPS_ACCESS_KEYS is set. Chalice warns on every request.
warnings.filterwarnings("ignore", message="IAMAuthorizer is not a supported in local mode")


class LocalStack:
    """Emulator on `emulator_port`, API on `api_port` (0 picks a free port)."""

    def __init__(self, api_port: int = 8000, emulator_port: int = 5000, host: str = "127.0.0.1",
                 triggers: list[dict[str, object]] | None = None) -> None:
        self.emulator = Emulator(port=emulator_port)
        self._api_port = api_port
        self._host = host
        self._server: LocalDevServer | None = None
        self.api_url = ""
        self._pollers: list[QueuePoller] = []
        # S3 triggers (chalicelib.triggers): this list, else MPS_TRIGGERS from the environment.
        self._trigger_config = triggers
        self.triggers: TriggerFeed | None = None

    def start(self) -> "LocalStack":
        self.emulator.start()
        notify_queue = self.emulator.client("sqs").create_queue(QueueName=NOTIFY_QUEUE)["QueueUrl"]
        os.environ.update({"MPS_AWS_ENDPOINT_URL": self.emulator.url, "MPS_DISPATCH": "local",
                           "MPS_NOTIFY_QUEUE_URL": notify_queue})
        # Everything runs on this machine, so notification endpoints on loopback are fine here.
        os.environ.setdefault("MPS_NOTIFY_ALLOW", "loopback")
        services.reset()
        settings = get_settings()
        create_table(boto3.resource("dynamodb", endpoint_url=self.emulator.url, region_name=settings.aws_region),
                     settings.table_name)
        self._pollers.append(QueuePoller(self.emulator.client("sqs"), notify_queue, deliver_notifications,
                                         settings.aws_region).start())

        if self._trigger_config is not None:
            os.environ["MPS_TRIGGERS"] = json.dumps(self._trigger_config)
        watched = configured_triggers(settings)
        if watched:
            self.triggers, poller = start_triggers(self.emulator.client("s3"), self.emulator.client("sqs"), watched,
                                                   settings.aws_region, start_triggered_tasks)
            self._pollers.append(poller)

        config = Config.create(chalice_app=app, app_name=app.app_name, chalice_stage="local")
        self._server = create_local_server(app, config, self._host, self._api_port)
        host, port = self._server.server.server_address[:2]
        self.api_url = f"http://{host}:{port}"
        threading.Thread(target=self._server.server.serve_forever, daemon=True, name="api").start()
        return self

    def stop(self) -> None:
        for poller in self._pollers:
            poller.stop()
        if self._server is not None:
            self._server.shutdown()
        self.emulator.stop()

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = LocalStack(api_port=int(os.environ.get("API_PORT", 8000)),
                       emulator_port=int(os.environ.get("EMULATOR_PORT", 5000))).start()
    print(f"API       {stack.api_url}\nemulator  {stack.emulator.url} (S3, DynamoDB, ...; "
          f"credentials testing/testing, region {get_settings().aws_region})\nCtrl-C stops.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    stack.stop()


if __name__ == "__main__":
    main()
