"""The real Claude Code CLI through a real Traefik (TLS, test CA), with the commands of docs/claude-code.md.

tests/e2e/traefik.py starts Traefik on 127.0.0.1 with the chart's routes: one TLS entryPoint
per server, `/mcp` round-robin over the replicas, `/sse` and `/messages/` behind the chart's
sticky cookie. Two edges run here, over the same upstreams:

- "two": two stateless replicas per server (the chart's default shape);
- "one": one stateful replica per server (what deploy.md recommends for SSE clients that do
  not keep cookies and no shared store);
- "shared": three stateless replicas per server sharing a real redis-server (MCP_STATE_URL)
  and no sticky cookie: a POST /messages/ that reaches a replica without the stream is relayed
  to the one holding it.

The doc's tokens, HTTP and SSE blocks run unchanged with `$NGFW_URL` etc. set to the
https:// public URLs and `NODE_EXTRA_CA_CERTS` set to the test CA. Besides the CLI's verdict,
each test reads Traefik's access log and the replicas' /metrics.
"""

from __future__ import annotations

import sys

import pytest

from claude_support import (
    PREFIX,
    log_mark,
    new_log_lines,
    ROOT,
    SERVERS,
    Home,
    Shims,
    counters_all,
    delta,
    doc_blocks,
    mint_doc_tokens,
    require_cli,
)
from secops_stack import Stack

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from traefik import _SHORT, Edge  # noqa: E402

CONNECTED = "✔ Connected"
FAILED = "✘ Failed to connect"


@pytest.fixture(scope="module")
def edges():
    require_cli()
    with Stack() as st:
        upstreams = {s: st.upstream_env(s) for s in SERVERS}
        out: dict[str, Edge] = {}
        state_url = st.redis()
        for label, replicas, stateless, shared in (("two", 2, True, False), ("one", 1, False, False),
                                                   ("shared", 3, True, True)):
            edge = Edge(st)
            for server in SERVERS:
                upstream, upstream_vars = upstreams[server]
                env = edge.server_env(server)
                if shared:
                    # rmcp logs each request it receives at debug: proof of what the CLI asked.
                    env = {**env, "MCP_STATE_URL": state_url, "RUST_LOG": "info,rmcp::service=debug"}
                dep = st.deploy(server, replicas=replicas, stateless=stateless, env=env,
                                upstream=upstream, upstream_vars=upstream_vars)
                edge.add(server, dep, sse=True, sticky=not shared)
            out[label] = edge.start()
        yield out


@pytest.fixture(scope="module")
def shims(tmp_path_factory) -> Shims:
    return Shims.create(tmp_path_factory.mktemp("shims"))


def home_for(edge: Edge, shims: Shims, base) -> Home:
    """A throwaway HOME whose environment has the public https:// URLs, the test CA and the
    tokens the doc's tokens block mints with this edge's servers' secrets."""
    urls = {f"{PREFIX[s]}_URL": edge.public_url(s) for s in SERVERS}
    home = Home.create(base, shims, {**urls, "NODE_EXTRA_CA_CERTS": str(edge.ca_file)})
    home.env.update(mint_doc_tokens(home, {s: d.secret for s, d in edge.deployments.items()}))
    return home


def access_records(edge: Edge, start: int, server: str) -> list[dict]:
    """Traefik's access-log records since `start` for `server`'s entryPoint."""
    entry = f"websecure-{_SHORT[server]}"
    return [r for r in edge.access_log()[start:] if r.get("entryPointName") == entry]


def backends(edge: Edge, server: str) -> set[str]:
    return {r.base for r in edge.deployments[server].replicas}


def test_http_through_traefik_connects(edges, shims, tmp_path):
    edge = edges["two"]
    home = home_for(edge, shims, tmp_path)
    home.bash(doc_blocks()["http"])
    start = len(edge.access_log())
    before = counters_all(edge.deployments)
    lines = home.mcp_list()
    d = delta(before, counters_all(edge.deployments))
    assert sorted(lines) == sorted(SERVERS), lines
    for server in SERVERS:
        target, status = lines[server]
        assert target == f"https://{edge.hostname}:{edge.port(server)}/mcp (HTTP)"
        assert status == CONNECTED, f"{server}: {status}"
        assert d[server]["mcp_200"] >= 1 and d[server]["auth_failures"] == 0, f"{server}: {d[server]}"
        served = [r for r in access_records(edge, start, server)
                  if r.get("RequestPath") == "/mcp" and r.get("DownstreamStatus") == 200]
        assert served, f"{server}: Traefik logged no /mcp request answered 200"
        assert {r.get("ServiceURL", "").rstrip("/") for r in served} <= backends(edge, server)
        assert all(r.get("TLSVersion") in ("1.2", "1.3") for r in served), served


def test_tls_is_verified_against_the_test_ca(edges, shims, tmp_path):
    """Without NODE_EXTRA_CA_CERTS the CLI must refuse the test CA's certificate: proof that the
    connection above was TLS and verified, not a fallback."""
    edge = edges["two"]
    home = home_for(edge, shims, tmp_path)
    home.bash(doc_blocks()["http"])
    del home.env["NODE_EXTRA_CA_CERTS"]
    start = len(edge.access_log())
    before = counters_all(edge.deployments)
    lines = home.mcp_list()
    d = delta(before, counters_all(edge.deployments))
    for server in SERVERS:
        _, status = lines[server]
        assert status.startswith(FAILED), f"{server}: {status}"
        assert "certificate" in status.lower() or "issuer" in status.lower(), f"{server}: {status}"
        assert d[server]["mcp_200"] == 0, f"{server}: {d[server]}"
        assert not [r for r in access_records(edge, start, server) if r.get("RequestPath") == "/mcp"], \
            f"{server}: a request got through without the CA"


def test_sse_through_traefik_to_one_replica_connects(edges, shims, tmp_path):
    edge = edges["one"]
    home = home_for(edge, shims, tmp_path)
    home.bash(doc_blocks()["sse"])
    start = len(edge.access_log())
    before = counters_all(edge.deployments)
    lines = home.mcp_list()
    d = delta(before, counters_all(edge.deployments))
    for server in SERVERS:
        target, status = lines[server]
        assert target == f"https://{edge.hostname}:{edge.port(server)}/sse (SSE)"
        assert status == CONNECTED, f"{server}: {status}"
        assert d[server]["sse_200"] >= 1 and d[server]["messages_202"] >= 1, f"{server}: {d[server]}"
        records = access_records(edge, start, server)
        assert any(r.get("RequestPath") == "/sse" and r.get("DownstreamStatus") == 200 for r in records), records
        assert any(r.get("RequestPath", "").startswith("/messages/") and r.get("DownstreamStatus") == 202
                   for r in records), records


def test_sse_through_traefik_to_two_replicas_loses_the_session(edges, shims, tmp_path):
    """What docs/claude-code.md (Legacy SSE) says: Claude Code does not send Traefik's sticky
    cookie back, so with two replicas its POST /messages/ reaches the replica without the
    session. If a CLI update starts keeping cookies, this fails: update the doc then."""
    edge = edges["two"]
    services = edge.dynamic_config()["http"]["services"]
    home = home_for(edge, shims, tmp_path)
    home.bash(doc_blocks()["sse"])
    start = len(edge.access_log())
    lines = home.mcp_list()
    for server in SERVERS:
        assert "sticky" in services[f"{_SHORT[server]}-sse"]["loadBalancer"], "the chart's sticky cookie is not set up"
        _, status = lines[server]
        assert status.startswith(FAILED), f"{server}: {status}"
        assert "HTTP 404" in status and "session not found" in status, f"{server}: {status}"
        records = access_records(edge, start, server)
        streams = {r.get("ServiceURL", "").rstrip("/") for r in records
                   if r.get("RequestPath") == "/sse" and r.get("DownstreamStatus") == 200}
        lost = [r for r in records if r.get("RequestPath", "").startswith("/messages/")
                and r.get("DownstreamStatus") == 404]
        assert streams and lost, f"{server}: {records}"
        # each lost POST went to a replica other than one holding a stream
        for r in lost:
            assert streams - {r.get("ServiceURL", "").rstrip("/")}, f"{server}: {records}"


def test_sse_through_traefik_to_three_replicas_sharing_a_store_connects(edges, shims, tmp_path):
    """#19: with MCP_STATE_URL the replicas act as one, so Claude Code's SSE transport works
    through Traefik with three replicas and no sticky cookie. Each POST /messages/ is answered
    202 by whichever replica Traefik picks; those without the stream relay it through Redis."""
    edge = edges["shared"]
    services = edge.dynamic_config()["http"]["services"]
    home = home_for(edge, shims, tmp_path)
    home.bash(doc_blocks()["sse"])
    start = len(edge.access_log())
    relayed_before = {s: sum(r.metric("mcp_sse_relayed_total") for r in edge.deployments[s].replicas)
                      for s in SERVERS}
    marks = {s: log_mark(edge.deployments[s]) for s in SERVERS}
    lines = home.mcp_list()
    for server in SERVERS:
        assert len(edge.deployments[server].replicas) == 3
        assert "sticky" not in services[f"{_SHORT[server]}-sse"]["loadBalancer"], "no sticky cookie here"
        target, status = lines[server]
        assert target == f"https://{edge.hostname}:{edge.port(server)}/sse (SSE)"
        assert status == CONNECTED, f"{server}: {status}"
        records = access_records(edge, start, server)
        streams = {r.get("ServiceURL", "").rstrip("/") for r in records
                   if r.get("RequestPath") == "/sse" and r.get("DownstreamStatus") == 200}
        posts = [r for r in records if r.get("RequestPath", "").startswith("/messages/")]
        assert streams and posts, f"{server}: {records}"
        assert all(r.get("DownstreamStatus") == 202 for r in posts), f"{server}: {posts}"
        relayed = sum(r.metric("mcp_sse_relayed_total") for r in edge.deployments[server].replicas)
        # Traefik round-robins the posts; any that reached a replica without the stream was relayed.
        elsewhere = [r for r in posts if r.get("ServiceURL", "").rstrip("/") not in streams]
        assert relayed - relayed_before[server] >= max(1, len(elsewhere)), f"{server}: {relayed} {elsewhere}"
        # The session's replica received the CLI's initialize and its tools/list, whichever
        # replica Traefik sent each POST to.
        records = new_log_lines(edge.deployments[server], marks[server])
        assert any(r.get("message") == "Service initialized as server" and 'name: "claude-code"' in r.get("peer_info", "")
                   for r in records), f"{server}: no initialize from claude-code in the replicas' logs"
        received = [r.get("request", "") for r in records if r.get("message") == "received request"]
        assert any("ListToolsRequest" in q for q in received), f"{server}: the CLI listed no tools: {received[:5]}"
