"""An HTTPS server in a thread that logs every request it answered, for the issuer and webhook.

Both servers kube-apiserver calls are small: a few paths, JSON in and out. This module holds
what they share: binding the caller's address (port 0 picks a free port), TLS with the
cluster's serving certificate, one thread serving and one per connection, a structured record
of every request (time, client, method, path, status, and what the service adds), and a
``stop()`` that may be called any number of times and frees the port.
"""

from __future__ import annotations

import datetime
import json
import ssl
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import AuthprobeError
from ..model.timeouts import calls
from .pki import ServingCert

# kube-apiserver's bodies (a SubjectAccessReview) are a few kilobytes.
MAX_BODY = 1 << 20


def timestamp() -> str:
    """The time now as the log records it: UTC, ISO 8601, milliseconds."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    client: str
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class Reply:
    """A service's answer: status, JSON payload, and what the log records beside the path."""

    status: int
    payload: Any
    detail: dict = field(default_factory=dict)


class RequestLog:
    """The records of what a server answered, safe to read while it serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict] = []

    def add(self, record: dict) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[dict]:
        """A copy of every record so far, oldest first."""
        with self._lock:
            return [json.loads(json.dumps(record)) for record in self._records]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, log: RequestLog) -> None:
        super().__init__(address, handler)
        self.log = log

    def handle_error(self, request, client_address) -> None:
        """A connection that failed before an answer (a refused TLS handshake, a client that
        went away) is a record too, with the error's line; nothing is printed."""
        err = sys.exc_info()[1]
        self.log.add({"time": timestamp(), "client": _client(client_address),
                      "method": None, "path": None, "status": None,
                      "error": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
                      if err and str(err) else type(err).__name__})


def _client(address) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class HttpsService:
    """Base of a JSON-over-HTTPS service: subclasses implement :meth:`respond`.

    ``host`` is the address to bind (the harness passes the kind network's gateway, tests
    127.0.0.1); ``port`` 0 lets the system pick one, read back from :attr:`port` after
    :meth:`start`.
    """

    name = "server"

    def __init__(self, serving: ServingCert, host: str, port: int = 0) -> None:
        self.serving = serving
        self.host = host
        self._wanted_port = port
        self.log = RequestLog()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def respond(self, request: Request) -> Reply:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise AuthprobeError(f"the {self.name} is not running: start it before asking its "
                                 "port")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``https://host:port`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> None:
        """Bind, load the serving certificate and serve in a thread; a second call does
        nothing. A taken port or an unusable certificate is one line."""
        with self._lock:
            if self._server is not None:
                return
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            try:
                context.load_cert_chain(self.serving.cert_path, self.serving.key_path)
            except (OSError, ssl.SSLError) as err:
                raise AuthprobeError(
                    f"the {self.name} cannot load its serving certificate "
                    f"{self.serving.cert_path}: {err}; make the cluster's certificates again"
                ) from err
            try:
                server = _Server((self.host, self._wanted_port), _handler_for(self), self.log)
            except OSError as err:
                raise AuthprobeError(
                    f"the {self.name} cannot listen on {self.host}:{self._wanted_port}: "
                    f"{err.strerror or err}; pick another address or port") from err
            # The handshake runs in the connection's thread, not in the accepting one, so a
            # client that stalls in it holds up nobody else.
            server.socket = context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"authprobe-{self.name}", daemon=True)
            thread.start()
            self._server, self._thread = server, thread
            # Started again after a stop, it listens on the same port: the cluster's config
            # files name it.
            self._wanted_port = server.server_address[1]

    def stop(self) -> None:
        """Stop serving and close the listening socket (the port is free again); calling it
        again, or before :meth:`start`, does nothing."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler_for(service: HttpsService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = calls().server_connection
        server_version = f"authprobe-{service.name}"
        sys_version = ""

        def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
            """Requests are recorded in the service's log, not printed."""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                reply = Reply(413, {"error": f"body over {MAX_BODY} bytes"})
            else:
                body = self.rfile.read(length) if length > 0 else b""
                request = Request(self.command, self.path.split("?", 1)[0],
                                  _client(self.client_address), body)
                reply = service.respond(request)
            data = json.dumps(reply.payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            record = {"time": timestamp(), "client": _client(self.client_address),
                      "method": self.command, "path": self.path.split("?", 1)[0],
                      "status": reply.status}
            record.update(reply.detail)
            service.log.add(record)

        do_GET = _serve
        do_POST = _serve

    return Handler
