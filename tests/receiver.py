"""A real HTTP notification endpoint on loopback whose behaviour a test scripts."""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    message_type: str
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Script:
    """How the endpoint behaves: confirm or not, fail the first N notifications, or hang."""

    confirm: bool = True
    failures: int = 0
    hang_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notifications(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.message_type == "Notification"]


class Receiver:
    def __init__(self) -> None:
        self.script = Script()
        script_of = lambda: self.script  # noqa: E731 - the handler reads the current script

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                script = script_of()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get("x-jdcloud-message-type", "")
                with script.lock:
                    script.received.append(Received(kind, body))
                    failing = kind == "Notification" and script.failures > 0
                    if failing:
                        script.failures -= 1
                if kind == "Notification" and script.hang_seconds:
                    time.sleep(script.hang_seconds)
                answer = base64.b64encode(body) if kind == "SubscriptionConfirmation" and script.confirm else b"no"
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.script.notifications()) < count:
            assert time.monotonic() < deadline, f"{len(self.script.notifications())} of {count} notifications"
            time.sleep(0.05)
        return self.script.notifications()
