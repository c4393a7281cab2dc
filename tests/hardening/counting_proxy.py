"""A tiny counting HTTP reverse proxy on 127.0.0.1, for upstreams that count nothing (moto).

    proxy = CountingProxy("http://127.0.0.1:5000").start()
    env["AWS_ENDPOINT_URL"] = proxy.url       # the server talks to moto through the proxy
    before = proxy.requests()
    ...                                        # a tool call
    assert proxy.requests() == before          # nothing reached moto

Every request that arrives (any method, any path) is counted *before* it is forwarded, so a
request counts even when the target fails. Bodies are read by Content-Length or chunked
transfer encoding and forwarded with a Content-Length; responses are relayed with their
status, headers (hop-by-hop ones dropped) and body. HTTP/1.1 keep-alive is supported, which
the AWS SDK uses.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "content-length"}


class CountingProxy:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        assert parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"), target
        self.target_host = parts.hostname
        self.target_port = parts.port or 80
        self._lock = threading.Lock()
        self._count = 0
        self.log: list[str] = []  # "METHOD PATH" of every request, in order
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- counting ------------------------------------------------------------------------

    def requests(self) -> int:
        with self._lock:
            return self._count

    def seen_since(self, index: int) -> list[str]:
        with self._lock:
            return list(self.log[index:])

    def _record(self, line: str) -> None:
        with self._lock:
            self._count += 1
            self.log.append(line)

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "CountingProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                proxy._record(f"{self.command} {self.path}")
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, reason, resp_headers = resp.status, resp.reason, resp.getheaders()
                except OSError as err:
                    status, reason, resp_headers = 502, "Bad Gateway", [("Content-Type", "text/plain")]
                    data = f"counting proxy: {err}".encode()
                finally:
                    conn.close()
                self.send_response(status, reason)
                for key, value in resp_headers:
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="counting-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "CountingProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
