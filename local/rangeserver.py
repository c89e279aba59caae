"""A static HTTP server on loopback that honours Range requests and counts the bytes it sends.

It stands in for S3 where a test or the benchmark must know how much of a source
ffmpeg really read. ffmpeg asks for open-ended ranges and hangs up once it has what
it needs, so the server paces its writes (small chunks, a small send buffer) to keep
what sits in socket buffers at that moment, counted but never read, small.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
CHUNK = 32 * 1024
PAUSE = 0.0005  # seconds after each chunk: about 64 MB/s, slower than ffmpeg reads


class RangeServer:
    """Serves the files of `folder`; `bytes_sent` is the body bytes sent since the last reset()."""

    def __init__(self, folder: Path) -> None:
        self.bytes_sent = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = folder / self.path.split("?", 1)[0].lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                size = path.stat().st_size
                start, end = 0, size - 1
                match = _RANGE.match(self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if match else 200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start + 1))
                if match:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                with path.open("rb") as source:
                    source.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = source.read(min(CHUNK, left))
                        try:
                            self.wfile.write(chunk)
                        except (BrokenPipeError, ConnectionResetError):  # ffmpeg stops reading once it has enough
                            break
                        owner._count(len(chunk))
                        left -= len(chunk)
                        time.sleep(PAUSE)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name="range-server").start()

    def _count(self, sent: int) -> None:
        with self._lock:
            self.bytes_sent += sent

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def reset(self) -> None:
        with self._lock:
            self.bytes_sent = 0

    def stop(self) -> None:
        self._server.shutdown()
