"""A recording HTTP proxy between Metacontroller and the hooks, to capture real hook requests.

Used by the end-to-end tests only when `RECORD_HOOK_REQUESTS=DIR` is set: every request body
Metacontroller sends is forwarded unchanged and also written to DIR (the last one per hook and
parent kind wins, so DIR ends with the richest request: observed children, related pods, status).
`tests/fixtures/recorded/` holds such a capture, replayed by tests/integration/hooks.
"""

from __future__ import annotations

import http.client
import json
import pathlib
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["RecordingProxy"]


class RecordingProxy:
    def __init__(self, target: str, directory: pathlib.Path) -> None:
        self.target = urllib.parse.urlsplit(target)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RecordingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, path: str, body: bytes) -> None:
        try:
            request = json.loads(body)
        except json.JSONDecodeError:
            return
        parent = request.get("parent") or request.get("object") or {}
        children = request.get("children") or {}
        # Keep the richest request per hook: the one that observed the most children.
        name = f"{path.strip('/').replace('/', '-')}-{str(parent.get('kind', 'x')).lower()}.json"
        target = self.directory / name
        size = sum(len(group) for group in children.values() if isinstance(group, dict))
        if target.exists():
            old = json.loads(target.read_text()).get("children") or {}
            if sum(len(g) for g in old.values() if isinstance(g, dict)) > size:
                return
        target.write_text(json.dumps(request, indent=2, sort_keys=True) + "\n")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                proxy._record(self.path, body)
                connection = http.client.HTTPConnection(
                    proxy.target.hostname or "127.0.0.1", proxy.target.port, timeout=30
                )
                try:
                    connection.request(
                        "POST", self.path, body, {"Content-Type": "application/json"}
                    )
                    answer = connection.getresponse()
                    payload = answer.read()
                except OSError:
                    self.send_error(502, "hooks unreachable")
                    return
                finally:
                    connection.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
