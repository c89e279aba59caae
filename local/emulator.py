"""Moto's server mode on loopback: S3, DynamoDB and the rest of AWS, with no account."""
from __future__ import annotations

import logging
import os

import boto3
from moto.server import ThreadedMotoServer

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Emulator:
    """A running moto server; `url` is what boto3's endpoint_url takes."""

    def __init__(self, port: int = 5000) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.url = ""

    def start(self) -> "Emulator":
        for name, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per emulator call drowns the rest
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str):  # noqa: ANN201 - boto3 clients are untyped
        """A boto3 client for a service of the emulator."""
        return boto3.client(service, endpoint_url=self.url, region_name=os.environ["AWS_DEFAULT_REGION"])
