"""A small threaded HTTP/1.1 server base shared by the array REST API and the admin API."""
from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JsonHandler(BaseHTTPRequestHandler):
    """Routes ``(method, first path segments)`` to ``self.route``; JSON in and out."""

    protocol_version = "HTTP/1.1"
    server_version = "DelfinSim/1.0"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet; stats carry the counts
        log.debug(fmt, *args)

    def setup(self) -> None:
        if hasattr(self.request, "do_handshake"):   # HTTPS: handshake here, bounded
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        # answers go out at once: no Nagle wait for the client's delayed ACK on a reused connection
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)  # type: ignore[attr-defined]

    def _dispatch(self) -> None:
        self.extra_headers: dict[str, str] = {}      # a route may add some (cookies, paging)
        self._body: Optional[bytes] = None
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            status, body = self.route(self.command, parts)
        except HttpError as exc:
            status, body = exc.status, {"error": exc.message}
        except Exception as exc:  # never let a bad request kill the server
            log.exception("handler failed")
            status, body = 500, {"error": f"internal error: {type(exc).__name__}"}
        try:
            self._raw_body()            # a body the route did not read must not be taken for the
        except HttpError:               # next request on this keep-alive connection
            self.close_connection = True
        if isinstance(body, (bytes, str)):
            self.send_raw(status, body.encode() if isinstance(body, str) else body)
        else:
            self.send_json(status, body)

    do_GET = do_POST = do_DELETE = do_PUT = _dispatch

    def route(self, method: str, parts: list[str]) -> tuple[int, Any]:
        raise HttpError(404, "not found")

    def _raw_body(self) -> bytes:
        """The request's body, read once."""
        if self._body is None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise HttpError(413, "body too large")
            self._body = self.rfile.read(length) if length else b""
        return self._body

    def body(self) -> dict[str, Any]:
        raw = self._raw_body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise HttpError(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise HttpError(400, "body must be a JSON object")
        return data

    def send_json(self, status: int, body: Any) -> None:
        self.send_raw(status, b"" if status == 204 else json.dumps(body).encode(),
                      "application/json")

    def send_raw(self, status: int, data: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in getattr(self, "extra_headers", {}).items():
            self.send_header(name, value)
        # one write per response: status line, headers, blank line and body together
        self._headers_buffer.append(b"\r\n")
        if data and self.command != "HEAD":
            self._headers_buffer.append(data)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []


class _TLSServer(ThreadingHTTPServer):
    """HTTPS: the TLS handshake runs in the connection's own thread, never in the accept loop."""

    tls: Any = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("TLS connection from %s failed", client_address, exc_info=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        return self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr


class Server:
    """A restartable ThreadingHTTPServer on a fixed port (down = stop listening, as an array);
    HTTPS when given an ``ssl.SSLContext``."""

    def __init__(self, handler: type, port: int, context: Any, host: str = "127.0.0.1", tls: Any = None) -> None:
        self.handler, self.host, self.context, self.tls = handler, host, context, tls
        self.port = port
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def start(self) -> None:
        httpd = _TLSServer((self.host, self.port), self.handler) if self.tls else \
            ThreadingHTTPServer((self.host, self.port), self.handler)
        httpd.tls = self.tls                  # type: ignore[attr-defined]
        httpd.daemon_threads = True
        httpd.context = self.context          # type: ignore[attr-defined]
        httpd.track = self.track              # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True, name=f"http-{self.port}").start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:  # existing keep-alive connections break too
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def running(self) -> bool:
        return self._httpd is not None


def int_param(query: dict[str, str], name: str, default: Optional[int] = None,
              check: Callable[[int], bool] = lambda v: v >= 0) -> int:
    raw = query.get(name)
    if raw is None:
        if default is None:
            raise HttpError(400, f"missing query parameter {name}")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, f"query parameter {name} must be an integer") from None
    if not check(value):
        raise HttpError(400, f"query parameter {name} out of range")
    return value
