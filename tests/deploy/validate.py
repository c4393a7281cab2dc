#!/usr/bin/env python3
"""Offline validation of the deployment assets in deploy/ (`make test-deploy`).

Run with the repository venv's Python (.venv/bin/python), after
`pip install -r tests/deploy/requirements.txt`; checkov runs from its own venv
(.venv/checkov-venv, see the Makefile). No cluster, no helm binary, no network.

0. servers.toml (the one list of servers) against deploy/: each deployable
   server has its chart values, systemd drop-in and env file, and no others.
1. Helm: render the chart with helm-python-sdk (Helm v4's Go SDK) for each
   server's values file (servers.toml `values`, released as its `short` name)
   and for the variants in tests/deploy/variants/ (each on the values file its
   `# Layered on FILE:` line names), check
   every rendered document parses, and `helm lint --strict` each set of values.
2. Values schema: every file in tests/deploy/bad/ must be rejected, with the
   reason it names in its `# expect:` lines.
3. Kubernetes schemas: built-in kinds with kubernetes-validate (strict) at
   KUBE_VERSION; custom resources against the CRD JSON schemas in
   $SECOPS_FIXTURES_DIR/k8s-crd-schemas (a custom kind without a schema fails).
4. checkov (kubernetes framework) on the rendered manifests and deploy/k8s.
5. yamllint on every non-template YAML file in deploy/ and tests/deploy/, the CI
   workflows and .pre-commit-config.yaml.
6. hadolint on both Dockerfiles.
7. `kubectl kustomize` on every kustomization in deploy/.
8. systemd-analyze verify and security on the unit template, when available.
9. deploy/terraform: its releases against servers.toml, `terraform fmt -check`
   when a terraform binary is on PATH, checkov (terraform framework) always.
10. actionlint on .github/workflows (shellcheck on run: blocks when it is on PATH).
Plus invariants the tools above do not check (hardening, secrets as files).

The last line is `deploy: N passed, M failed`; the exit code is 1
when anything failed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "deploy"
DEPLOY = ROOT / "deploy"
TERRAFORM = DEPLOY / "terraform"
CHART = DEPLOY / "helm" / "secops-mcp"
VALUES_DIR = DEPLOY / "helm" / "values"
OUT = ROOT / "tests" / ".tmp" / "deploy"  # rendered manifests, kept for inspection
VENV_BIN = Path(sys.prefix) / "bin"
CHECKOV = Path(os.environ.get("SECOPS_CHECKOV", Path(sys.prefix) / "checkov-venv" / "bin" / "checkov"))
FIXTURES = Path(os.environ.get("SECOPS_FIXTURES_DIR", ROOT.parent / "shared" / "fixtures"))
CRD_SCHEMAS = FIXTURES / "k8s-crd-schemas"

KUBE_VERSION = "1.33.0"
NAMESPACE = "secops-mcp"
STATE_MOUNT = "/var/run/secrets/secops-mcp-state"  # where the chart mounts state.existingSecret

sys.path.insert(0, str(ROOT / "scripts"))
import servers as servers_toml  # noqa: E402 - scripts/servers.py: the one list of servers (servers.toml)

# The deployable servers of servers.toml: server -> its entry (`short` is the release name used
# in docs/deploy.md, `values` its chart values file).
SPECS = {name: spec for name, spec in servers_toml.load().items() if spec.deployable}
SERVERS = list(SPECS)
_LAYERED_ON = re.compile(r"^# Layered on (\S+?\.yaml)\b", re.M)


def variants() -> dict[str, tuple[str, list[Path]]]:
    """name -> (release, values files layered in order): each server's values file, then each
    file in tests/deploy/variants/ on the values file its `# Layered on FILE:` line names."""
    out = {name: (spec.short, [spec.values_path]) for name, spec in SPECS.items()}
    by_values = {spec.values_path: spec for spec in SPECS.values()}
    for f in [DEPLOY / "helm" / "values-dev.yaml", *sorted((HERE / "variants").glob("*.yaml"))]:
        base = _LAYERED_ON.findall(f.read_text())
        if len(base) != 1 or ROOT / base[0] not in by_values:
            raise SystemExit(f"{f}: needs one `# Layered on FILE:` line naming a values file of servers.toml "
                             f"({', '.join(str(p.relative_to(ROOT)) for p in by_values)})")
        out[f.stem] = (by_values[ROOT / base[0]].short, [ROOT / base[0], f])
    return out


VARIANTS: dict[str, tuple[str, list[Path]]] = variants()
# API groups served by Kubernetes itself (validated by kubernetes-validate).
BUILTIN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
                  "storage.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "coordination.k8s.io",
                  "discovery.k8s.io", "scheduling.k8s.io", "node.k8s.io", "certificates.k8s.io"}


class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run one check: it passes unless it raises."""
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
            msg = str(exc).strip() or type(exc).__name__
            if not isinstance(exc, (AssertionError, CheckFailed)):
                msg = f"{type(exc).__name__}: {msg}\n{traceback.format_exc(limit=3)}"
            self.failed.append(name)
            print(f"FAIL {name}\n{indent(msg)}", flush=True)
            return None
        self.passed += 1
        print(f"ok   {name}", flush=True)
        return out


class CheckFailed(Exception):
    pass


def indent(text: str, prefix: str = "     ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kw)


def tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        raise CheckFailed(f"{path} is missing: run `make test-deploy` (it installs tests/deploy/requirements.txt)")
    return str(path)


# ---------------------------------------------------------------- helm

def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Layer values files as `helm -f a -f b` does: maps merge, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(helm: Any, files: Iterable[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for f in files:
        merged = deep_merge(merged, helm.values_from_yaml(f.read_text()) or {})
    return merged


def lint(helm: Any, values: dict[str, Any]) -> dict[str, Any]:
    return helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")


def render_variant(helm: Any, chart: Any, name: str, release: str, files: list[Path]) -> list[dict[str, Any]]:
    values = load_values(helm, files)
    chart.validate_schema(chart.merge_values(values))
    manifests = chart.render(values, name=release, namespace=NAMESPACE, is_install=True)
    docs: list[dict[str, Any]] = []
    text_out: list[str] = []
    for path in sorted(manifests):
        if not path.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        body = manifests[path]
        try:
            parsed = [d for d in yaml.safe_load_all(body) if d is not None]
        except yaml.YAMLError as exc:
            raise CheckFailed(f"{path} renders to invalid YAML: {exc}\n{body}") from exc
        for d in parsed:
            if not isinstance(d, dict) or "apiVersion" not in d or "kind" not in d:
                raise CheckFailed(f"{path}: a rendered document without apiVersion/kind: {d!r}")
            docs.append(d)
        if parsed:
            text_out.append(f"# Source: {path}\n{body.strip()}\n")
    if not docs:
        raise CheckFailed("the chart rendered nothing")
    (OUT / f"{name}.yaml").write_text("---\n".join(text_out))
    return docs


def check_lint(helm: Any, files: list[Path]) -> None:
    report = lint(helm, load_values(helm, files))
    bad = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    if bad or report.get("errors"):
        raise CheckFailed("helm lint --strict:\n" + "\n".join(f"[{m['severity']}] {m['path']}: {m['error']}" for m in bad)
                          + "\n".join(report.get("errors", [])))


def bad_cases() -> list[tuple[Path, Path, list[str]]]:
    cases = []
    for f in sorted((HERE / "bad").glob("*.yaml")):
        text = f.read_text()
        base = re.findall(r"^# base: (\S+)$", text, re.M)
        expect = re.findall(r"^# expect: (.+)$", text, re.M)
        if len(base) != 1 or not expect:
            raise CheckFailed(f"{f}: needs one `# base: FILE` line and at least one `# expect: TEXT` line")
        cases.append((f, VALUES_DIR / base[0], expect))
    if not cases:
        raise CheckFailed("tests/deploy/bad/ holds no values files")
    return cases


def check_rejected(helm: Any, chart: Any, bad: Path, base: Path, expect: list[str]) -> None:
    helm_errors = (helm.HelmValuesError, helm.HelmRenderError, helm.HelmChartInvalidError)
    values = load_values(helm, [base, bad])
    try:
        chart.validate_schema(chart.merge_values(values))
    except helm_errors as exc:
        message = str(exc)
    else:
        raise CheckFailed(f"the schema accepted {bad.name}")
    missing = [e for e in expect if e not in message]
    if missing:
        raise CheckFailed(f"rejected, but the message does not mention {missing}:\n{message}")
    # `helm lint` and an install (render) refuse it too.
    report = lint(helm, values)
    if not any(all(e in err for e in expect) for err in report.get("errors", [])):
        raise CheckFailed(f"helm lint did not report {expect}: {report}")
    try:
        chart.render(values, name="bad", namespace=NAMESPACE, is_install=True)
    except helm_errors:
        pass
    else:
        raise CheckFailed("render accepted the values")


# ---------------------------------------------------------------- invariants of the rendered chart

def check_invariants(name: str, docs: list[dict[str, Any]], values: dict[str, Any]) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
        assert d["metadata"].get("namespace") == NAMESPACE or d["kind"] in {"ClusterIssuer"}, \
            f"{d['kind']}/{d['metadata']['name']} has no namespace"
    (dep,) = by_kind["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 65532
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    (c,) = [c for c in pod["containers"] if c["name"] == values["server"]]
    # values-dev.yaml adds vendor-sim as a second container: hardened the same way.
    sidecars = [s["name"] for s in pod["containers"] if s is not c]
    assert sidecars == (["vendor-sim"] if values.get("devSimulator", {}).get("enabled") else []), sidecars
    for each in pod["containers"]:
        sc = each["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, each["name"]
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["runAsUser"] == 65532, each["name"]
        assert each["resources"]["requests"] and each["resources"]["limits"], each["name"]
        assert each["livenessProbe"] and each["readinessProbe"], each["name"]
    if sidecars:
        # The server reaches the simulator on loopback (plain http is refused anywhere else).
        port = values["devSimulator"].get("port", 9000)
        assert values["upstream"]["host"] == f"http://127.0.0.1:{port}", values["upstream"]["host"]
        assert any(e.get("value") == values["upstream"]["host"] for e in c["env"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    env = {e["name"]: e for e in c["env"]}
    for e in c["env"]:
        assert "valueFrom" not in e, f"{e['name']}: secrets are mounted as files, never env values"
    assert env["MCP_TRANSPORT"]["value"] == "http" and env["MCP_BIND"]["value"] == "0.0.0.0:8080"
    assert env["MCP_STATELESS"]["value"] in ("true", "false")
    assert "envFrom" not in c
    # Every *_FILE and secret path variable points into a mounted volume.
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    for e in c["env"]:
        v = e.get("value", "")
        if e["name"].endswith("_FILE") or v.startswith(("/var/run/secrets/", "/etc/secops-mcp/")):
            assert any(v.startswith(m + "/") for m in mounts), f"{e['name']}={v} is not under a mounted volume"
    # The secret volume lists exactly the files the env refers to.
    secret_vols = [v for v in pod["volumes"] if "secret" in v]
    for v in secret_vols:
        assert v["secret"]["defaultMode"] == 0o440
    if values.get("auth", {}).get("mode") != "none":
        assert env["MCP_AUTH"]["value"] == "jwt"
        assert {"MCP_JWT_JWKS_URL", "MCP_JWT_SECRET_FILE"} & env.keys(), "JWT auth without a verifier"
        # mcp-core refuses to start with a JWKS verifier and no audience.
        if "MCP_JWT_JWKS_URL" in env:
            assert env.get("MCP_JWT_AUDIENCE", {}).get("value"), "MCP_JWT_JWKS_URL without MCP_JWT_AUDIENCE"
    host = values.get("ingress", {}).get("host")
    if host:
        assert host in env["MCP_ALLOWED_HOSTS"]["value"].split(",")
        assert env["MCP_PUBLIC_URL"]["value"].endswith("://" + host)
    # Scaling and disruption.
    if values.get("autoscaling", {}).get("enabled", True):
        (hpa,) = by_kind["HorizontalPodAutoscaler"]
        assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 10
        assert "replicas" not in dep["spec"], "the HPA owns the replica count"
        targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]}
        assert targets == {"cpu": 70, "memory": 80}, targets
    else:
        assert "HorizontalPodAutoscaler" not in by_kind
        assert dep["spec"]["replicas"] == values.get("replicaCount", 2)
    if len(by_kind.get("PodDisruptionBudget", [])):
        assert by_kind["PodDisruptionBudget"][0]["spec"]["minAvailable"] == 1
    # Shared state (state.existingSecret or state.url): the URL reaches the server as
    # MCP_STATE_URL_FILE on its own Secret volume, or as a plain MCP_STATE_URL; never both.
    state = values.get("state", {})
    state_secret = state.get("existingSecret", {}).get("name")
    state_url = state.get("url")
    shared = bool(state_secret or state_url)
    state_vols = [v for v in pod["volumes"] if v["name"] == "state"]
    if state_secret:
        key = state["existingSecret"].get("key", "url")
        assert env["MCP_STATE_URL_FILE"]["value"] == f"{STATE_MOUNT}/{key}", env.get("MCP_STATE_URL_FILE")
        assert "MCP_STATE_URL" not in env, "MCP_STATE_URL and MCP_STATE_URL_FILE both set"
        (vol,) = state_vols
        assert vol["secret"]["secretName"] == state_secret, vol
        assert vol["secret"]["items"] == [{"key": key, "path": key}], vol
        (mount,) = [m for m in c["volumeMounts"] if m["name"] == "state"]
        assert mount["mountPath"] == STATE_MOUNT and mount["readOnly"] is True, mount
    elif state_url:
        assert env["MCP_STATE_URL"]["value"] == state_url, env.get("MCP_STATE_URL")
        assert "MCP_STATE_URL_FILE" not in env and not state_vols
    else:
        assert not {"MCP_STATE_URL", "MCP_STATE_URL_FILE"} & env.keys() and not state_vols
    # Stateful /mcp over more than one replica only with a shared store.
    multi = values.get("autoscaling", {}).get("enabled", True) or values.get("replicaCount", 2) > 1
    if env["MCP_STATELESS"]["value"] == "false" and multi:
        assert shared, "stateful /mcp with more than one replica and no shared state store"
    # NetworkPolicy: DNS, the configured upstreams and, with shared state, the store; nothing else.
    (np,) = by_kind["NetworkPolicy"]
    egress = np["spec"]["egress"]
    assert {(p["port"], p["protocol"]) for p in egress[0]["ports"]} == {(53, "UDP"), (53, "TCP")}
    upstreams = len(values.get("upstream", {}).get("egress", []))
    assert len(egress) == 1 + upstreams + shared, f"{len(egress)} egress rules"
    assert all("ipBlock" in t for rule in egress[1:1 + upstreams] for t in rule["to"])
    if shared:
        store = egress[-1]
        port = state.get("networkPolicy", {}).get("port", 6379)
        assert store["ports"] == [{"port": port, "protocol": "TCP"}], store["ports"]
        assert store["to"] == state["networkPolicy"]["to"] and store["to"], store["to"]
    # ServiceAccount without a token.
    (sa,) = by_kind["ServiceAccount"]
    assert sa["automountServiceAccountToken"] is False
    # GKE Workload Identity: serviceAccount.gcpServiceAccount becomes the annotation.
    gsa = values.get("serviceAccount", {}).get("gcpServiceAccount")
    annotation = (sa["metadata"].get("annotations") or {}).get("iam.gke.io/gcp-service-account")
    assert annotation == (gsa or None), f"iam.gke.io/gcp-service-account {annotation!r}, values {gsa!r}"
    # An ExternalSecret store authenticated by Workload Identity must use this release's service account.
    for store in by_kind.get("SecretStore", []):
        wi = store["spec"]["provider"].get("gcpsm", {}).get("auth", {}).get("workloadIdentity")
        if wi:
            assert wi["serviceAccountRef"]["name"] == sa["metadata"]["name"], wi
            assert gsa, "a gcpsm workloadIdentity store without serviceAccount.gcpServiceAccount"
    # Routing: /mcp never sticky; SSE sticky with more than one replica and no shared state
    # store (with one, a POST /messages/ is relayed to the stream's replica).
    sse = values.get("sse", {}).get("enabled", False)
    sticky_sse = sse and multi and not shared
    for ir in by_kind.get("IngressRoute", []):
        for route in ir["spec"]["routes"]:
            sticky = any("sticky" in s for s in route["services"])
            if "/mcp" in route["match"]:
                assert not sticky, "/mcp must not be sticky"
            if "/sse" in route["match"]:
                assert sticky == sticky_sse, f"SSE stickiness {sticky}; more than one replica {multi}, shared state {shared}"
        assert "tls" in ir["spec"]
    for ing in by_kind.get("Ingress", []):
        paths = {p["path"]: p for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
        assert "/metrics" not in paths and "/healthz" not in paths
        assert paths["/mcp"]["backend"]["service"]["name"] == dep["metadata"]["name"]
        if sse:
            want = dep["metadata"]["name"] + ("-sse" if sticky_sse else "")
            for path in ("/sse", "/messages"):
                assert paths[path]["backend"]["service"]["name"] == want, (path, paths[path]["backend"])
    sse_services = [s["metadata"]["name"] for s in by_kind["Service"] if s["metadata"]["name"].endswith("-sse")]
    assert bool(sse_services) == bool(sticky_sse and by_kind.get("Ingress")), sse_services
    if not sticky_sse:
        # No sticky cookie anywhere: no IngressRoute `sticky`, no sticky Service annotation.
        assert "sticky" not in json.dumps(docs), "a sticky cookie is rendered where none is needed"
    # The retry middleware (on by default) is on every published route, for both ingress kinds.
    retry = values.get("ingress", {}).get("retry", {}).get("enabled", True)
    if retry and (by_kind.get("IngressRoute") or by_kind.get("Ingress")):
        assert any("retry" in m["spec"] for m in by_kind.get("Middleware", [])), "no retry Middleware"
        for ir in by_kind.get("IngressRoute", []):
            for route in ir["spec"]["routes"]:
                assert any(m["name"].endswith("-retry") for m in route.get("middlewares", [])), route["match"]
        for ing in by_kind.get("Ingress", []):
            chain = ing["metadata"]["annotations"].get("traefik.ingress.kubernetes.io/router.middlewares", "")
            assert "-retry@kubernetescrd" in chain, chain
    if sticky_sse and by_kind.get("Ingress"):
        svc = [s for s in by_kind["Service"] if s["metadata"]["name"].endswith("-sse")]
        assert svc and svc[0]["metadata"]["annotations"]["traefik.ingress.kubernetes.io/service.sticky.cookie"] == "true"


def check_shared_state(rendered: dict[str, list[dict[str, Any]]]) -> str:
    """The releases that share state in Redis or Valkey render what they should, spelled out per
    variant (check_invariants checks the same rules for every variant, from its values): the URL
    from a Secret file or in plain text, the egress rule to the store on 6379, SSE with no sticky
    cookie; panw-airs as its values file says (3 replicas, HPA 2..10, SSE, state from a Secret);
    and, without state, SSE over several replicas still sticky."""
    def parts(name: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        docs = rendered.get(name)
        assert docs, f"variant {name} did not render"
        (dep,) = [d for d in docs if d["kind"] == "Deployment"]
        pod = dep["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for c in pod["containers"] for e in c["env"]}
        (np,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
        store = [r for r in np["spec"]["egress"] if r["ports"] == [{"port": 6379, "protocol": "TCP"}]]
        return dep, env, store, docs

    def services(docs: list[dict[str, Any]]) -> set[str]:
        return {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}

    # state.existingSecret (on paloalto-ngfw): HPA, stateful /mcp, SSE behind a standard Ingress.
    dep, env, store, docs = parts("state-existing-secret")
    assert env["MCP_STATE_URL_FILE"] == f"{STATE_MOUNT}/redis-url" and "MCP_STATE_URL" not in env, env
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["state"]["secret"]["secretName"] == "secops-mcp-state", vols.get("state")
    assert env["MCP_STATELESS"] == "false" and "replicas" not in dep["spec"]
    assert len(store) == 1 and "podSelector" in store[0]["to"][0], store
    (ing,) = [d for d in docs if d["kind"] == "Ingress"]
    backends = {p["path"]: p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends["/sse"] == backends["/messages"] == backends["/mcp"] == "ngfw", backends
    assert services(docs) == {"ngfw"} and "sticky" not in json.dumps(docs)
    # state.url (on proxmox): three fixed replicas, stateful /mcp, SSE on an IngressRoute.
    dep, env, store, docs = parts("state-url")
    assert env["MCP_STATE_URL"] == "redis://valkey.secops-mcp.svc:6379/0" and "MCP_STATE_URL_FILE" not in env, env
    assert dep["spec"]["replicas"] == 3 and env["MCP_STATELESS"] == "false"
    assert len(store) == 1 and store[0]["to"] == [{"ipBlock": {"cidr": "10.20.0.5/32"}}], store
    (ir,) = [d for d in docs if d["kind"] == "IngressRoute"]
    (sse_route,) = [r for r in ir["spec"]["routes"] if "/sse" in r["match"]]
    assert not any("sticky" in s for s in sse_route["services"]), sse_route
    assert "sticky" not in json.dumps(docs)
    # panw-airs as released: 3 replicas (HPA off), HPA 2..10, SSE on, state from a Secret.
    airs = yaml.safe_load(SPECS["panw-airs"].values_path.read_text())
    assert airs["replicaCount"] == 3 and airs["sse"]["enabled"] is True, airs
    dep, env, store, docs = parts("panw-airs")
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10), hpa["spec"]
    assert env["MCP_STATE_URL_FILE"] == f"{STATE_MOUNT}/url", env
    assert len(store) == 1, store
    (ing,) = [d for d in docs if d["kind"] == "Ingress"]
    paths = {p["path"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    assert {"/sse", "/messages"} <= paths, paths
    assert services(docs) == {"airs"} and "sticky" not in json.dumps(docs)
    # Without state, SSE over several replicas stays sticky (both ingress kinds).
    _, env, store, docs = parts("sse-ingress")
    assert not store and not {"MCP_STATE_URL", "MCP_STATE_URL_FILE"} & env.keys()
    assert services(docs) == {"airs", "airs-sse"}, services(docs)
    _, env, store, docs = parts("sse-2-replicas")
    (ir,) = [d for d in docs if d["kind"] == "IngressRoute"]
    (sse_route,) = [r for r in ir["spec"]["routes"] if "/sse" in r["match"]]
    assert not store and sse_route["services"][0]["sticky"]["cookie"]["name"] == "secops_mcp_sse", sse_route
    return "state-existing-secret, state-url, panw-airs (shared, not sticky); sse-ingress, sse-2-replicas (sticky)"


# ---------------------------------------------------------------- schemas

def group_version(api_version: str) -> tuple[str, str]:
    return tuple(api_version.split("/", 1)) if "/" in api_version else ("", api_version)  # type: ignore[return-value]


def validate_doc(doc: dict[str, Any]) -> str:
    import jsonschema
    import kubernetes_validate

    group, version = group_version(doc["apiVersion"])
    kind = doc["kind"]
    if group in BUILTIN_GROUPS:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise CheckFailed(f"kubernetes-validate {KUBE_VERSION} --strict: {exc.message} at {list(exc.path)}") from exc
        except kubernetes_validate.SchemaNotFoundError as exc:
            raise CheckFailed(f"no Kubernetes {KUBE_VERSION} schema for {doc['apiVersion']} {kind}") from exc
        return "kubernetes-validate"
    schema_file = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not schema_file.exists():
        raise CheckFailed(f"custom resource {doc['apiVersion']} {kind} has no schema ({schema_file} is missing)")
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        raise CheckFailed("\n".join(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:10]))
    return "crd-schema"


def k8s_manifest_files() -> list[Path]:
    """YAML files under deploy/k8s that hold Kubernetes objects (not Helm values, not kustomizations)."""
    files = []
    for f in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(f.read_text()) if d]
        if docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs):
            if not any(d["kind"] == "Kustomization" for d in docs):
                files.append(f)
    return files


def check_schema_doc(doc: dict[str, Any]) -> None:
    validate_doc(doc)


# ---------------------------------------------------------------- external tools

def check_checkov(files: list[Path], allow_empty: bool = False, framework: str = "kubernetes",
                  directory: Path | None = None) -> str:
    if not CHECKOV.exists():
        raise CheckFailed(f"{CHECKOV} is missing: run `make test-deploy` (it installs tests/deploy/requirements-checkov.txt)")
    cmd = [str(CHECKOV), "--framework", framework, "--skip-download", "--compact", "--output", "json"]
    for f in files:
        cmd += ["-f", str(f)]
    if directory is not None:
        cmd += ["-d", str(directory)]
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", LOG_LEVEL="WARNING")
    proc = run(cmd, env=env)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CheckFailed(f"checkov exit {proc.returncode}, no JSON report:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
    reports = report if isinstance(report, list) else [report]
    failed, passed, skipped = [], 0, []
    for r in reports:
        if "results" not in r:  # {"passed": 0, "failed": 0, ...} when nothing was scanned
            continue
        res = r["results"]
        passed += r.get("summary", {}).get("passed", 0)
        failed += res.get("failed_checks", [])
        skipped += res.get("skipped_checks", [])
        if r.get("summary", {}).get("parsing_errors"):
            raise CheckFailed(f"checkov could not parse: {res.get('parsing_errors')}")
    if passed == 0 and not allow_empty:
        raise CheckFailed(f"checkov scanned nothing:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    for s in skipped:
        reason = (s.get("check_result") or {}).get("suppress_comment", "")
        if not reason or len(reason) < 20:
            raise CheckFailed(f"{s['check_id']} on {s['resource']} is skipped without a reason")
    if failed or proc.returncode != 0:
        lines = [f"{f['check_id']} {f['check_name']}: {f['resource']} ({Path(f['file_path']).name})" for f in failed]
        raise CheckFailed(f"checkov exit {proc.returncode}, {len(failed)} failed:\n" + "\n".join(lines))
    ids = sorted({s["check_id"] for s in skipped})
    return f"{passed} passed, {len(skipped)} skipped ({', '.join(ids) or 'none'})"


def check_cmd(cmd: list[str]) -> str:
    proc = run(cmd)
    if proc.returncode != 0:
        raise CheckFailed(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def yamllint_targets() -> list[Path]:
    files = [p for p in sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
             if "templates" not in p.relative_to(DEPLOY).parts]
    files += sorted(HERE.rglob("*.yaml"))
    files += sorted((ROOT / ".github" / "workflows").glob("*.yml")) + [ROOT / ".pre-commit-config.yaml"]
    return [f for f in files if f.exists()]


def check_kustomize(kdir: Path) -> list[dict[str, Any]]:
    out = check_cmd([tool("kubectl"), "kustomize", str(kdir)])
    docs = [d for d in yaml.safe_load_all(out) if d]
    if not docs:
        raise CheckFailed("kustomize built nothing")
    (OUT / f"kustomize-{kdir.relative_to(DEPLOY).as_posix().replace('/', '-')}.yaml").write_text(out)
    return docs


def check_systemd() -> str:
    """systemd-analyze verify and security of each instance, in a scratch root with stub binaries."""
    sa = shutil.which("systemd-analyze")
    units = DEPLOY / "systemd"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "etc/systemd").mkdir(parents=True)
        shutil.copytree(units, root / "etc/systemd/system", ignore=shutil.ignore_patterns("*.env"))
        (root / "usr/lib/systemd").mkdir(parents=True)
        for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
            if Path(d).is_dir():
                shutil.copytree(d, root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
                break
        (root / "usr/local/bin").mkdir(parents=True)
        out = []
        for server in SERVERS:
            stub = root / "usr/local/bin" / server
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
            unit = f"secops-mcp@{server}.service"
            for cmd in ([sa, "verify", "--man=no", f"--root={root}", unit],
                        [sa, "security", "--offline=yes", "--threshold=20", f"--root={root}", unit]):
                proc = run(cmd)
                noise = proc.stderr.strip() if cmd[1] == "verify" else ""
                if proc.returncode != 0 or noise:
                    raise CheckFailed(f"{' '.join(cmd[:2])} {unit}: exit {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr}")
                if cmd[1] == "security":
                    m = re.search(r"exposure level for \S+: ([0-9.]+)", proc.stdout)
                    out.append(f"{server} {m.group(1) if m else '?'}")
        return "exposure " + ", ".join(out)


# ---------------------------------------------------------------- terraform, CI workflow

def terraform_defaults(tf_file: Path) -> dict[str, Any]:
    """variable name -> default, parsed by python-hcl2 (checkov's venv has it)."""
    code = ("import hcl2, json, sys\n"
            "doc = hcl2.load(open(sys.argv[1]))\n"
            "out = {k: (v.get('default') or [None])[0] for block in doc.get('variable', []) for k, v in block.items()}\n"
            "print(json.dumps(out))")
    proc = run([str(CHECKOV.parent / "python"), "-c", code, str(tf_file)])
    if proc.returncode != 0:
        raise CheckFailed(f"python-hcl2 could not parse {tf_file}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def check_terraform_releases() -> str:
    """deploy/terraform/gke's default releases are the Helm releases of servers.toml: same names
    (the chart names each Kubernetes service account after its release), same servers, one secret
    per key of the release Secret, and the JWT key for the releases that verify HS256 tokens."""
    d = terraform_defaults(TERRAFORM / "gke" / "variables.tf")
    assert d["namespace"] == NAMESPACE, d["namespace"]
    want, jwt = {}, set()
    for name, spec in SPECS.items():
        values = yaml.safe_load(spec.values_path.read_text())
        want[spec.short] = {"server": name, "secrets": sorted(f["key"] for f in values.get("secrets", {}).get("files", []))}
        hs256 = values.get("auth", {}).get("jwt", {}).get("hs256", {})
        if hs256.get("enabled"):
            jwt.add(spec.short)
            assert hs256.get("secretKey", "mcp-jwt-secret") == d["jwt_secret_key"], (spec.short, hs256)
    got = {r: {"server": v["server"], "secrets": sorted(v["secrets"])} for r, v in d["releases"].items()}
    assert got == want, f"variables.tf releases {got}\n!= servers.toml and the values files {want}"
    assert set(d["jwt_key_releases"]) == jwt, f"jwt_key_releases {d['jwt_key_releases']}, HS256 releases {sorted(jwt)}"
    return ", ".join(f"{r} ({len(v['secrets'])} secrets)" for r, v in got.items())


def check_terraform_fmt() -> str:
    check_cmd([shutil.which("terraform") or "terraform", "fmt", "-check", "-recursive", "-diff", "-no-color",
               str(TERRAFORM)])
    return ""


def check_actionlint() -> str:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert workflows, "no workflow in .github/workflows"
    check_cmd([tool("actionlint"), "-no-color", *map(str, workflows)])
    shellcheck = "with shellcheck" if shutil.which("shellcheck") else "no shellcheck on PATH: run: blocks not shell-checked"
    return f"{', '.join(str(w.relative_to(ROOT)) for w in workflows)} ({shellcheck})"


def check_pre_commit() -> str:
    """.pre-commit-config.yaml: local hooks only (offline), the five checks, each the command
    `make lint` runs (the Makefile recipe holds every hook's entry)."""
    doc = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [h for repo in doc["repos"] for h in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in doc["repos"]), "every hook must be a local one"
    ids = {h["id"] for h in hooks}
    assert ids == {"cargo-fmt", "clippy", "yamllint", "hadolint", "actionlint"}, ids
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nlint:"):].split("\n\n", 1)[0]
    recipe = recipe.replace("$(CARGO)", "cargo").replace("$(VENV)", ".venv")
    for h in hooks:
        assert h["language"] == "system", h["id"]
        assert h["entry"] in recipe, f"{h['id']}: `{h['entry']}` is not in make lint:\n{recipe}"
    assert "make lint" in (ROOT / ".ci" / "run").read_text(), ".ci/run does not run make lint"
    return ", ".join(sorted(ids))


# ---------------------------------------------------------------- servers.toml against deploy/

def check_servers_toml() -> str:
    """Every deployable server of servers.toml has its chart values, systemd drop-in and env file
    and is one the chart accepts, and deploy/ holds none for a server servers.toml does not list."""
    missing = servers_toml.missing_files(SPECS)
    assert not missing, "servers.toml names files that do not exist:\n" + "\n".join(missing)
    values = {p.resolve() for p in VALUES_DIR.glob("*.yaml")}
    named = {spec.values_path.resolve() for spec in SPECS.values()}
    assert values == named, (f"deploy/helm/values/ and servers.toml differ: only in deploy/ "
                             f"{sorted(p.name for p in values - named)}, only in servers.toml {sorted(p.name for p in named - values)}")
    units = DEPLOY / "systemd"
    for server in SERVERS:
        assert (units / f"secops-mcp@{server}.service.d").is_dir(), f"no deploy/systemd/secops-mcp@{server}.service.d"
        assert (units / f"{server}.env").is_file(), f"no deploy/systemd/{server}.env"
    extra = sorted({p.name.removeprefix("secops-mcp@").removesuffix(".service.d")
                    for p in units.glob("secops-mcp@*.service.d")} - set(SERVERS))
    assert not extra, f"deploy/systemd has drop-ins for servers servers.toml does not list: {extra}"
    # The chart cannot read servers.toml (Helm reads only the chart's own files): its `server`
    # enum and its host-variable map (templates/_helpers.tpl) must name the same servers.
    enum = json.loads((CHART / "values.schema.json").read_text())["properties"]["server"]["enum"]
    assert sorted(enum) == sorted(SERVERS), f"values.schema.json server enum {enum} != servers.toml {SERVERS}"
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    missing = [s for s in SERVERS if f'"{s}"' not in helpers]
    assert not missing, f"templates/_helpers.tpl (secops-mcp.hostEnv) has no upstream variable for {missing}"
    return ", ".join(f"{name} ({spec.short})" for name, spec in SPECS.items())


def check_gcp_secretstores() -> str:
    """deploy/k8s/secrets/secretstore-gcp.yaml: one Workload Identity store per release that has
    secret files, named gcp-<release>, authenticated as that release's service account."""
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "secrets" / "secretstore-gcp.yaml").read_text()) if d]
    want = {spec.short for spec in SPECS.values() if yaml.safe_load(spec.values_path.read_text()).get("secrets", {}).get("files")}
    got = {}
    for d in docs:
        assert d["kind"] == "SecretStore" and d["metadata"]["namespace"] == NAMESPACE, d["metadata"]
        wi = d["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentity"]
        got[d["metadata"]["name"]] = wi["serviceAccountRef"]["name"]
    assert got == {f"gcp-{r}": r for r in want}, f"stores {got}, releases with secrets {sorted(want)}"
    return ", ".join(sorted(got))


# ---------------------------------------------------------------- single-host and image invariants

def check_compose() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = dict(doc["services"])
    # The shared state store (profile `state`): hardened too, on the Compose network only,
    # its image pinned by a tag.
    store = services.pop("valkey", None)
    assert store is not None, "no valkey service (the shared state store)"
    assert store["profiles"] == ["state"], store.get("profiles")
    assert re.fullmatch(r"\$\{VALKEY_IMAGE:-valkey/valkey:[0-9][0-9.]*\}", store["image"]), store["image"]
    assert store["read_only"] is True and store["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in store["security_opt"]
    assert store["user"] == "65532:65532", store["user"]
    assert "ports" not in store, "the state store is published beyond the Compose network"
    assert store["healthcheck"]["test"][0] == "CMD"
    # Its users (and their passwords) come from an ACL file, a secret.
    cmd = store["command"]
    assert cmd[cmd.index("--aclfile") + 1] == "/run/secrets/valkey-acl" and store["secrets"] == ["valkey-acl"], cmd
    # The servers read its URL from a secret, only when MCP_STATE_URL_SECRET names the file.
    assert doc["secrets"]["mcp-state-url"]["file"] == "${MCP_STATE_URL_SECRET:-/dev/null}"
    assert set(services) == set(SERVERS), sorted(services)
    for name, svc in services.items():
        assert svc["environment"]["MCP_STATE_URL_FILE"] == "${MCP_STATE_URL_SECRET:+/run/secrets/mcp-state-url}", name
        assert "MCP_STATE_URL" not in svc["environment"], f"{name}: the state URL may hold a password"
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["user"] == "65532:65532", name
        assert svc["healthcheck"]["test"][0] == "CMD", f"{name}: the image has no shell"
        assert svc["build"]["args"]["SERVER"] == name
        env = svc["environment"]
        for key, value in env.items():
            assert not re.search(r"(KEY|SECRET|PASSWORD|TOKEN)$", key) or key == "PROXMOX_TOKEN_ID", \
                f"{name}: {key} is a secret in the environment; use {key}_FILE"
            if key.endswith("_FILE") or str(value).startswith("/run/secrets/"):
                # A path, or `${VAR:+path}` (set only when VAR is).
                secret = re.sub(r"^\$\{\w+:\+(.*)\}$", r"\1", str(value)).rsplit("/", 1)[1]
                assert secret in svc["secrets"], f"{name}: {key} points at {secret}, which is not mounted"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published beyond loopback"


def check_dockerfiles() -> None:
    for f in ("Dockerfile", "Dockerfile.prebuilt"):
        text = (DEPLOY / "docker" / f).read_text()
        stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
        assert stages[-1] == "scratch", f"{f}: the runtime stage is {stages[-1]}"
        runtime = text[text.rindex("FROM scratch"):]
        assert re.search(r"^USER 65532:65532$", runtime, re.M), f"{f}: not the non-root UID 65532"
        assert 'ENTRYPOINT ["/usr/local/bin/server"]' in runtime, f
        assert 'CMD ["serve", "--transport", "http"]' in runtime, f
        assert re.search(r"^EXPOSE 8080$", runtime, re.M), f
        assert "MCP_BIND=0.0.0.0:8080" in runtime and "MCP_LOG_FORMAT=json" in runtime, f
        assert "ca-certificates.crt" in runtime, f"{f}: no CA certificates"
        assert "ARG SERVER" in text, f
        assert not re.search(r"^RUN\b", runtime, re.M), f"{f}: the runtime stage has no shell to RUN with"
    main = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert 'RUSTFLAGS="-C target-feature=+crt-static"' in main
    assert re.search(r"cargo build --release --locked --target x86_64-unknown-linux-gnu -p \"\$\{SERVER\}\"", main)
    toolchain = re.search(r'channel = "([^"]+)"', (ROOT / "rust-toolchain.toml").read_text())
    assert toolchain and f"rust:{toolchain.group(1)}-" in main, "the builder image must match rust-toolchain.toml"


# ---------------------------------------------------------------- main

def main() -> int:
    results = Results()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.yaml"):
        old.unlink()

    import helm_python as helm  # helm-python-sdk: Helm v4's SDK, no helm binary

    print(f"helm SDK {helm.helm_sdk_version()} (helm-c {helm.helm_c_version()}), Kubernetes {KUBE_VERSION}, "
          f"CRD schemas {CRD_SCHEMAS}", flush=True)
    chart = helm.Chart.load(str(CHART))

    # 0. the list of servers
    listed = results.check("servers.toml: every deployable server has chart values, systemd units, nothing else",
                           check_servers_toml)
    if listed:
        print(f"     servers: {listed}")

    # 1. render + lint
    rendered: dict[str, list[dict[str, Any]]] = {}
    for name, (release, files) in VARIANTS.items():
        docs = results.check(f"helm render {name}", lambda: render_variant(helm, chart, name, release, files))
        if docs is not None:
            rendered[name] = docs
            values = load_values(helm, files)
            results.check(f"invariants {name}", lambda: check_invariants(name, docs, values))
        results.check(f"helm lint --strict {name}", lambda: check_lint(helm, files))
    # The variants reach every template (a template no variant renders is untested).
    def coverage() -> None:
        kinds = {d["kind"] for docs in rendered.values() for d in docs}
        want = {"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                "NetworkPolicy", "ServiceMonitor", "Ingress", "IngressRoute", "Middleware", "Certificate",
                "Secret", "ExternalSecret", "SecretStore", "ConfigMap"}
        assert want <= kinds, f"no variant renders {sorted(want - kinds)}"
    results.check("variants cover every template", coverage)
    summary = results.check("shared state: URL from a Secret or plain, egress to the store, SSE sticky only without it",
                            lambda: check_shared_state(rendered))
    if summary:
        print(f"     {summary}")

    # 2. negative cases
    cases = results.check("bad values files are well-formed", bad_cases) or []
    for bad, base, expect in cases:
        results.check(f"schema rejects {bad.name} ({', '.join(expect)})",
                      lambda: check_rejected(helm, chart, bad, base, expect))

    # 7. kustomize (its output is schema-checked below)
    kustomized: dict[str, list[dict[str, Any]]] = {}
    for kfile in sorted(DEPLOY.rglob("kustomization.yaml")):
        kdir = kfile.parent
        docs = results.check(f"kubectl kustomize {kdir.relative_to(ROOT)}", lambda: check_kustomize(kdir))
        if docs:
            kustomized[str(kdir.relative_to(ROOT))] = docs

    # 3. schemas
    def fixtures_present() -> None:
        if not CRD_SCHEMAS.is_dir():
            raise CheckFailed(f"CRD schemas not found at {CRD_SCHEMAS}: set SECOPS_FIXTURES_DIR to the shared "
                              "fixtures folder (custom resources cannot be validated without them)")
    results.check("CRD schema fixtures present", fixtures_present)
    sources: list[tuple[str, list[dict[str, Any]]]] = list(rendered.items())
    for f in k8s_manifest_files():
        sources.append((str(f.relative_to(ROOT)), [d for d in yaml.safe_load_all(f.read_text()) if d]))
    sources += [(f"kustomize {k}", v) for k, v in kustomized.items()]
    for src, docs in sources:
        for doc in docs:
            label = f"{doc['apiVersion']} {doc['kind']}/{doc.get('metadata', {}).get('name')}"
            results.check(f"schema {src}: {label}", lambda: check_schema_doc(doc))
    def custom_kinds_covered() -> None:
        seen = {d["kind"] for _, docs in sources for d in docs if group_version(d["apiVersion"])[0] not in BUILTIN_GROUPS}
        want = {"IngressRoute", "Middleware", "IPAddressPool", "L2Advertisement", "ExternalSecret", "SecretStore",
                "Certificate", "ClusterIssuer", "ServiceMonitor", "ApplicationSet"}
        assert want <= seen, f"never validated: {sorted(want - seen)}"
    results.check("every custom resource kind was schema-checked", custom_kinds_covered)
    results.check("GCP SecretStores: one per release with secrets, each as its own service account",
                  check_gcp_secretstores)

    # 4. checkov: one run per rendered release (so one release's NetworkPolicy cannot
    # cover another's pods in the graph checks) and one for deploy/k8s; two at a time.
    # checkov has no Kubernetes policy for the kinds in deploy/k8s (Namespace and custom
    # resources), so that run may scan nothing; it still fails on any finding.
    groups = [(f"checkov {f.stem}", [f], False) for f in sorted(OUT.glob("*.yaml"))
              if not f.stem.startswith("kustomize-")]
    groups.append(("checkov deploy/k8s", k8s_manifest_files(), True))
    def checkov_group(group: tuple[str, list[Path], bool]) -> Callable[[], str]:
        try:
            summary = check_checkov(group[1], allow_empty=group[2])
        except Exception as exc:  # noqa: BLE001 - re-raised in the main thread by results.check
            err = exc
            def fail() -> str:
                raise err
            return fail
        return lambda: summary
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(checkov_group, groups))
    for (name, _, _), outcome in zip(groups, outcomes):
        summary = results.check(f"{name} (--framework kubernetes)", outcome)
        if summary:
            print(f"     {summary}")

    # 9. Terraform (deploy/terraform): the releases against servers.toml, `terraform fmt` where a
    # terraform binary is on PATH (never downloaded), checkov's terraform framework always.
    releases = results.check("terraform gke: releases, service accounts and secrets match servers.toml",
                             check_terraform_releases)
    if releases:
        print(f"     releases: {releases}")
    if shutil.which("terraform"):
        results.check("terraform fmt -check -recursive deploy/terraform", check_terraform_fmt)
    else:
        print("skip terraform fmt -check: no terraform binary on PATH (optional; it is not downloaded)")
    for tf_dir in sorted({f.parent for f in TERRAFORM.rglob("*.tf")}):
        summary = results.check(f"checkov {tf_dir.relative_to(ROOT)} (--framework terraform)",
                                lambda: check_checkov([], framework="terraform", directory=tf_dir))
        if summary:
            print(f"     {summary}")

    # 10. actionlint on the CI workflow
    summary = results.check("actionlint .github/workflows", check_actionlint)
    if summary:
        print(f"     {summary}")

    results.check(".pre-commit-config.yaml: local hooks, the same commands as make lint", check_pre_commit)

    # 5. yamllint
    results.check("yamllint (tests/deploy/yamllint.yaml, strict)",
                  lambda: check_cmd([tool("yamllint"), "-s", "-f", "parsable", "-c", str(HERE / "yamllint.yaml"),
                                     *map(str, yamllint_targets())]))

    # 6. hadolint
    for f in ("Dockerfile", "Dockerfile.prebuilt"):
        results.check(f"hadolint deploy/docker/{f}",
                      lambda: check_cmd([tool("hadolint"), "--no-color", str(DEPLOY / "docker" / f)]))
    results.check("Dockerfile invariants (scratch, UID 65532, entrypoint, static build)", check_dockerfiles)
    results.check("compose.yaml invariants (read_only, cap_drop ALL, no-new-privileges, secrets as files)",
                  check_compose)

    # 8. systemd (optional)
    if shutil.which("systemd-analyze"):
        exposure = results.check("systemd-analyze verify + security secops-mcp@<server>.service", check_systemd)
        if exposure:
            print(f"     systemd: {exposure}")
    else:
        print("skip systemd-analyze verify: systemd-analyze is not installed (optional)")

    print()
    if results.failed:
        print("failed:\n" + "\n".join(f"  {n}" for n in results.failed))
    print(f"deploy: {results.passed} passed, {len(results.failed)} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
