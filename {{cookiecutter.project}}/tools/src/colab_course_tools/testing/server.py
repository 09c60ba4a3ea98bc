"""A real HTTP server on loopback, serving files a test made: resumable, breaking off, or lying."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """A real HTTP server on 127.0.0.1 serving in-memory files; ``url(name, route="ok")``.

    Routes: ``ok`` honours Range requests; ``drop-once`` breaks off halfway the first time;
    ``drop-always`` ignores Range and always breaks off halfway; ``wrong`` serves other bytes.
    Every request is recorded in ``requests`` as ``(path, Range header)``.
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.dropped = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, name: str, route: str = "ok") -> str:
        return f"{self.base}/{route}/{name}"

    def __enter__(self) -> FileServer:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: FileServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            server.requests.append((self.path, self.headers.get("Range")))
            route, _, name = self.path.lstrip("/").partition("/")
            body = server.files.get(name)
            if body is None or route not in ("ok", "drop-once", "drop-always", "wrong"):
                self.send_error(404)
                return
            if route == "wrong":
                body = bytes(reversed(body))
            dropping = route == "drop-always" or (route == "drop-once" and not server.dropped)
            start = 0
            if self.headers.get("Range") and route != "drop-always":
                start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if dropping:
                server.dropped = True
                self.wfile.write(body[start : len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    return Handler


def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
