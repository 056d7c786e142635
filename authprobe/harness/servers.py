"""The servers a cluster's kube-apiserver calls, as lifecycle steps: its JWT issuer and its
webhook authorizer (:mod:`authprobe.servers`), started before the node is created and stopped
when the cluster ends.

Why the files are rendered twice: the pool renders a cluster before its lifecycle runs (its
hash names a reused cluster, its kind config is checked before anything starts), but the
issuer's URL and the CA kube-apiserver trusts it through exist only once the servers run, and
the servers belong to the cluster's lifecycle (their cleanup is the cluster's). So
:func:`authprobe.harness.render.render` writes the issuer and authorizer files with
``PENDING_ENDPOINTS`` (a check that the minor takes them, and a hash that does not change with
the servers' ports), and the ``servers`` step, before ``create`` writes the files into the
node's mount, renders the cluster again with the real endpoints
(:func:`authprobe.harness.render.with_endpoints`). For most profiles only those files change:
the kind config names only the folder they are in. A profile that reaches its issuer through
kube-apiserver's ``--oidc-*`` flags has the issuer's URL in the kind config itself
(``--oidc-issuer-url`` in the kubeadm ClusterConfiguration), so its kind config, and the flags
verify checks, are the ones rendered again; the issuer's CA is the auth file
``--oidc-ca-file`` names.

The servers bind to the gateway of the ``kind`` Docker network, the host address the node
reaches; the network is made as kind makes it when no cluster made it yet. Their CA and
serving certificate are made per cluster in its private folder (``servers/``, 0700, keys
0600). Their logs (what the issuer served and the tokens it minted, never a token; every
review the webhook answered) go into the report's logs folder when the cluster ends, which the
report scrubs as it does every log.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AuthprobeError, NotRunnable
from ..host.docker import docker
from ..model.timeouts import calls, waits
from ..progress import say
from ..servers.authorizer import Authorizer
from ..servers.issuer import Issuer
from ..servers.pki import ServingCert, issue_serving, make_authority
from ..wait import WaitTimeout, until
from .access import HttpClient
from .readiness import apiserver_containers, container_logs
from .render import Endpoints, webhook_policy, with_endpoints
from .state import ClusterState

KIND_NETWORK = "kind"
ISSUER_LOG = "issuer.jsonl"
WEBHOOK_LOG = "webhook-authorizer.jsonl"
_network_lock = threading.Lock()


@dataclass
class ClusterServers:
    """The running servers of one cluster. Tokens minted through :meth:`mint` are registered
    as secrets of the run, so no report holds them."""

    issuer: Issuer | None
    authorizer: Authorizer | None
    register_secret: Callable[[str], None] | None = field(repr=False, default=None)
    # What a server added while the cluster runs is made with: the serving certificate and
    # the address of the first ones, and how its stop joins the cluster's cleanups.
    serving: ServingCert | None = field(repr=False, default=None)
    host: str = ""
    own: Callable[[Issuer, str], None] | None = field(repr=False, default=None)
    added: dict[str, Issuer] = field(default_factory=dict)  # issuers added, by path

    def mint(self, sub: str, audience, *, by: Issuer | None = None, **kwargs) -> str:
        """A token of the cluster's issuer, or of ``by`` (an issuer added to it)."""
        issuer = by or self.issuer
        if issuer is None:
            raise NotRunnable("this cluster's profile runs no JWT issuer: no token to mint")
        token = issuer.mint(sub, audience, **kwargs)
        if self.register_secret is not None:
            self.register_secret(token)
        return token

    def logs(self) -> dict[str, list[dict]]:
        """What each server recorded so far: the issuer's requests and minted tokens, the
        webhook's reviews."""
        out: dict[str, list[dict]] = {}
        if self.issuer is not None:
            out["issuer"] = self.issuer.log.records()
            out["issuer_minted"] = self.issuer.minted()
        if self.authorizer is not None:
            out["webhook"] = self.authorizer.log.records()
        return out


def kind_ipv6_subnet(name: str, attempt: int = 0) -> str:
    """The ULA /64 kind gives a network it creates: fc00::/16 followed by bytes 2-7 of the
    SHA-1 of the name and the attempt (little-endian int32)."""
    digest = hashlib.sha1(name.encode() + attempt.to_bytes(4, "little", signed=True)).digest()
    raw = bytes([0xFC, 0x00]) + digest[2:8] + bytes(8)
    return f"{ipaddress.IPv6Address(raw)}/64"


def gateway_of(inspected: list[dict]) -> str | None:
    """The IPv4 gateway of the oldest network of ``docker network inspect`` output (kind
    keeps the oldest of networks sharing its name and removes the others)."""
    networks = sorted(inspected, key=lambda n: (n.get("Created", ""), n.get("Id", "")))
    for network in networks[:1]:
        for config in (network.get("IPAM") or {}).get("Config") or []:
            gateway = config.get("Gateway")
            if gateway and ipaddress.ip_address(gateway).version == 4:
                return gateway
    return None


def _inspect_kind_network() -> list[dict]:
    result = docker("network", "inspect", KIND_NETWORK, timeout=calls().host_query)
    if result.returncode != 0:
        return []
    try:
        return json.loads(result.stdout)
    except ValueError:
        return []


def kind_gateway() -> str:
    """The IPv4 gateway of the ``kind`` network, made first as kind makes it (bridge, IP
    masquerade, the default bridge's MTU, kind's IPv6 subnet, or none where the engine has no
    IPv6) when it does not exist. kind keeps the oldest of networks sharing the name, so the
    gateway is read from the oldest after the creation."""
    with _network_lock:
        found = gateway_of(_inspect_kind_network())
        if found:
            return found
        mtu = docker("network", "inspect", "bridge", "-f",
                     '{{ index .Options "com.docker.network.driver.mtu" }}',
                     timeout=calls().host_query).stdout.strip()
        args = ["network", "create", "-d=bridge",
                "-o", "com.docker.network.bridge.enable_ip_masquerade=true"]
        if mtu.isdigit() and int(mtu) > 0:
            args += ["-o", f"com.docker.network.driver.mtu={mtu}"]
        made = docker(*args, "--ipv6", "--subnet", kind_ipv6_subnet(KIND_NETWORK),
                      KIND_NETWORK, timeout=calls().host_command)
        found = gateway_of(_inspect_kind_network())
        if not found:  # an engine without IPv6: kind makes the network without it then
            made = docker(*args, KIND_NETWORK, timeout=calls().host_command)
            found = gateway_of(_inspect_kind_network())
        if not found:
            raise AuthprobeError(
                f"no IPv4 gateway on the Docker network '{KIND_NETWORK}' for the cluster's "
                f"servers to listen on ({(made.stderr or made.stdout).strip()[:200]}); check "
                f"`docker network inspect {KIND_NETWORK}`")
        say(f"made the Docker network '{KIND_NETWORK}' (gateway {found}) for the clusters' "
            "servers, as kind makes it")
        return found


def start(env, run: ClusterState) -> str:
    """Start the cluster's issuer and, where the profile has a chain, its webhook; render
    the files naming them. Each server's stop is a cleanup of the cluster."""
    profile = run.profile
    host = kind_gateway()
    folder = run.directory / "servers"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    authority = make_authority(folder, f"authprobe {run.name} servers")
    serving = issue_serving(authority, folder, "servers", ips=[host])
    servers = ClusterServers(None, None, env.register_secret, serving, host)
    servers.own = lambda server, file_name: run.on_end(
        f"stop the {server.name}", lambda: _stop(env, run, server, file_name,
                                                 lambda: {"minted": server.minted()}))
    said = []
    if profile.issuer is not None:
        issuer = Issuer(serving, host)
        if profile.issuer.get("jwks") == "mismatched":
            issuer.serve_mismatched_jwks()
        issuer.start()
        run.on_end("stop the issuer", lambda: _stop(env, run, issuer, ISSUER_LOG,
                                                      lambda: {"minted": issuer.minted()}))
        servers.issuer = issuer
        said.append(f"issuer {issuer.issuer_url}")
    if profile.authorizer is not None:
        authorizer = Authorizer(serving, host, webhook_policy(profile))
        authorizer.start()
        run.on_end("stop the webhook authorizer",
                   lambda: _stop(env, run, authorizer, WEBHOOK_LOG, dict))
        servers.authorizer = authorizer
        said.append(f"webhook {authorizer.review_url}")
    run.servers = servers
    endpoints = Endpoints(servers.issuer.issuer_url if servers.issuer else "",
                          authority.cert_pem,
                          servers.authorizer.review_url if servers.authorizer else "")
    run.rendered = with_endpoints(run.rendered, endpoints)
    return "; ".join(said)


def _stop(env, run: ClusterState, server, file_name: str, more) -> str:
    """Stop a server (its port is free again) and write its log for the report."""
    server.stop()
    try:
        folder = run.logs_dir or env.logs_root() / run.label
        folder.mkdir(parents=True, exist_ok=True)
        write_log(folder / file_name, server.log.records(), more())
    except OSError as err:
        return f"{server.name} stopped; its log could not be written: {err.strerror or err}"
    return f"{server.name} stopped ({len(server.log)} requests logged)"


def write_log(path: Path, records: list[dict], extra: dict) -> None:
    """One JSON record a line, then the extra records (the tokens minted, as records
    without the token). The report scrubs its logs folder (every registered token, anything
    shaped like a credential) when it is written."""
    lines = [json.dumps(record, sort_keys=True) for record in records]
    lines += [json.dumps({"record": name, **item}, sort_keys=True)
              for name, items in extra.items() for item in items]
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


def wait_jwt(env, run: ClusterState) -> str:
    """Wait until kube-apiserver's JWT authenticator accepts a token of the cluster's issuer
    (it fetches the discovery document and keys on its own schedule after start). The token's
    holder asks a SelfSubjectAccessReview, which every authenticated user may create on every
    minor (system:basic-user; SelfSubjectReview is served only from 1.28)."""
    servers = run.servers
    spec = dict((run.profile.issuer or {}).get("jwt") or {})
    token = servers.mint("authprobe-readiness", run.profile.jwt_audience, groups=[],
                         claims=dict((run.profile.issuer or {}).get("claims") or {}))
    client = HttpClient(run.found.admin.endpoint, token=token, user="jwt")
    last = {}

    def accepted() -> bool:
        response = client.request("POST", SELF_ACCESS_REVIEW_PATH, json=SELF_ACCESS_REVIEW)
        last["status"] = response.status_code
        return response.status_code == 201

    try:
        until(accepted, timeout=waits().jwt_authenticator, interval=1.0,
              what="kube-apiserver accepting a token of the cluster's issuer",
              state=lambda: f"last answer {last.get('status')}")
    except WaitTimeout:
        raise AuthprobeError(jwt_refused_line(
            servers.issuer.issuer_url, spec, waits().jwt_authenticator, last.get("status"),
            _apiserver_log(run))) from None
    finally:
        client.close()
    return f"a token of {servers.issuer.issuer_url} accepted"


# What kube-apiserver logs about a JWT issuer it cannot use, the cause first: the
# authenticator failing to fetch the discovery document or keys ("oidc authenticator: ...",
# every 10 s), then a token it refused ("Unable to authenticate the request" err="[invalid
# bearer token, oidc: ...]").
JWT_LOG_MARKS = ("oidc authenticator:", "Unable to authenticate the request")


def jwt_refused_line(issuer_url: str, spec: dict, seconds: float, status,
                     log: list[str]) -> str:
    """The one line of a cluster whose kube-apiserver never accepted its issuer's token:
    the issuer (and the discovery URL the profile gives), the last answer, and
    kube-apiserver's own last log line about it (its klog header left out): why its
    authenticator cannot start where it says so, else the refusal of a token."""
    discovery = (spec.get("issuer") or {}).get("discoveryURL")
    where = f"{issuer_url}" + (f" (discovery at {discovery})" if discovery else "")
    said = next((line for mark in JWT_LOG_MARKS for line in reversed(log) if mark in line), "")
    said = said.split("] ", 1)[1] if "] " in said else said
    return (f"kube-apiserver did not accept a token of the issuer {where} within "
            f"{seconds:.0f}s (last answer {status})"
            + (f"; its log: {said.strip()}" if said else "; its log says nothing of it")
            + "; check that the node reaches the issuer and that its JWKS holds the key its "
              "tokens are signed with")


def _apiserver_log(run: ClusterState) -> list[str]:
    """The running kube-apiserver's last log lines (none when the runtime cannot say)."""
    try:
        containers = [c for c in apiserver_containers(run.node)
                      if c.state == "CONTAINER_RUNNING"]
        return container_logs(run.node, containers[-1].id) if containers else []
    except AuthprobeError:
        return []


SELF_SUBJECT_REVIEW_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SELF_SUBJECT_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
SELF_ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SELF_ACCESS_REVIEW = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"nonResourceAttributes": {"path": "/version", "verb": "get"}}}


def add_issuer(run: ClusterState, path: str) -> Issuer:
    """A second JWT issuer of the cluster, served at ``path`` of its own port on the address
    and with the serving certificate of the first (so the same CA verifies it); started once
    per path, stopped with the cluster like the first, its log written beside the first's.
    A scenario names it in the cluster's AuthenticationConfiguration to add an issuer."""
    servers = run.servers
    if servers is None or servers.issuer is None or servers.own is None:
        raise NotRunnable("this cluster's profile runs no JWT issuer: no issuer to add "
                             "beside it")
    if path not in servers.added:
        issuer = Issuer(servers.serving, servers.host, path=path)
        issuer.name = f"issuer {issuer.path}"
        issuer.start()
        servers.own(issuer, f"issuer-{path.strip('/').replace('/', '-')}.jsonl")
        servers.added[path] = issuer
    return servers.added[path]


def stop_authorizer(run: ClusterState) -> None:
    """Stop the webhook now (a scenario of the chain without it); :func:`start_authorizer`
    serves it again on the same port, and its cleanup writes its log when the cluster ends."""
    if run.servers is None or run.servers.authorizer is None:
        raise NotRunnable("this cluster's profile runs no webhook authorizer")
    run.servers.authorizer.stop()


def start_authorizer(run: ClusterState) -> None:
    if run.servers is None or run.servers.authorizer is None:
        raise NotRunnable("this cluster's profile runs no webhook authorizer")
    run.servers.authorizer.start()
