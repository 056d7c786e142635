"""Render a profile, at one Kubernetes version, into a kind cluster config, its kubeadm patch
files and the files mounted into the node.

The kubeadm config patches carry no apiVersion, so kind applies them to whatever kubeadm API
the node's Kubernetes uses (versions.yaml ``kubeadm_api``); kind converts an unversioned
``extraArgs`` mapping into v1beta4's list of ``{name, value}``. Everything rendered is
public: the admin token lives only in the token file, which the harness writes itself.

The endpoints of the cluster's servers (its issuer's URL, their CA) exist only once the
``servers`` step has started them, before ``create``. The pool renders a cluster before that
with :data:`PENDING_ENDPOINTS`: the auth files naming the servers, and for a profile that
reaches its issuer through the ``--oidc-*`` flags the kind config too, carry the pending
values (``--oidc-issuer-url=https://issuer.authprobe.invalid``, a name that never resolves).
The ``servers`` step renders the cluster again with the real endpoints
(:func:`with_endpoints`) before the node is created; the cluster's hash is always that of
the pending rendering, so it does not change from run to run with the servers' ports.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field

import yaml

from ..errors import AuthprobeError
from ..model.profiles import (
    AUTH_FILE_REF,
    AUTHENTICATION_FILE,
    AUTHORIZATION_FILE,
    ISSUER_CA_FILE,
    ISSUER_URL_REF,
    WEBHOOK_KUBECONFIG_FILE,
    ProfileAt,
    flatten,
)
from ..model.versions import KubeVersion, VersionFacts
from ..servers import apiconfig
from ..servers.authorizer import webhook_kubeconfig
from ..servers.issuer import DEFAULT_ALGORITHM
from ..servers.policy import Policy, parse_policy

KIND_CONFIG_API = "kind.x-k8s.io/v1alpha4"
# Inside the node (and, for AUTH_DIR and AUDIT_DIR, inside the kube-apiserver pod).
AUTH_DIR = "/etc/authprobe/auth"
PATCHES_DIR = "/etc/authprobe/patches"
AUDIT_DIR = "/var/log/kubernetes/audit"
AUDIT_LOG = f"{AUDIT_DIR}/audit.log"
TOKEN_FILE = "tokens.csv"
AUDIT_POLICY_FILE = "audit-policy.yaml"
ADMIN_USER = "admin"
ADMIN_UID = "authprobe-admin"
# The static-token users of every cluster (name -> groups): the story's admin, and the users
# the scenarios bind to one narrow role each. Their tokens are made per cluster.
TOKEN_USERS = {
    ADMIN_USER: (),
    "healthz-reader": (),
    "exec-getter": (),
    "monitor": ("system:monitoring",),
}
DASHBOARD_NAMESPACE = "kubernetes-dashboard"
# The namespace the scenarios of JWT users and of the webhook ask about (it need not exist:
# authorization comes first); every request to it is audited.
SCENARIO_NAMESPACE = "authprobe-scenarios"
# Another such namespace, for requests a webhook's matchConditions leave out.
OUTSIDE_NAMESPACE = "authprobe-outside"
# The paths and users the scenarios ask about, the kubelet's probes, and the reviews the
# kubelet asks the apiserver for (its webhook authentication and authorization); nothing
# else is audited, so the log stays small. Failed authentication (401) has no user: the path
# and resource rules cover it. A TokenReview's request carries the token it reviews, so it
# is recorded without bodies; a SubjectAccessReview's bodies say who asked for what, and
# the answer.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "RequestResponse",
         "resources": [{"group": "authorization.k8s.io",
                        "resources": ["subjectaccessreviews", "selfsubjectaccessreviews"]}]},
        {"level": "Metadata",
         "resources": [{"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]},
        # Who a bearer token is, and the tokens refused (401 has no user to match on).
        {"level": "Metadata",
         "resources": [{"group": "authentication.k8s.io", "resources": ["selfsubjectreviews"]}]},
        {"level": "Metadata", "namespaces": [SCENARIO_NAMESPACE, OUTSIDE_NAMESPACE]},
        {"level": "Metadata",
         "nonResourceURLs": ["/", "/livez", "/livez*", "/readyz", "/readyz*", "/healthz",
                             "/healthz*", "/version", "/statusz", "/flagz"]},
        {"level": "Metadata", "users": [*TOKEN_USERS, "system:anonymous"]},
        {"level": "Metadata", "userGroups": ["system:unauthenticated"]},
        {"level": "Metadata", "namespaces": [DASHBOARD_NAMESPACE],
         "resources": [{"group": "", "resources": ["services/proxy"]}]},
        {"level": "None"},
    ],
}
AUDIT_ARGS = {
    "audit-policy-file": f"{AUTH_DIR}/{AUDIT_POLICY_FILE}",
    "audit-log-path": AUDIT_LOG,
    "audit-log-maxsize": "200",
    "audit-log-maxbackup": "1",
}


# The kubelet logs each failed probe ("Probe failed ... output=...") from verbosity 1 on.
KUBELET_VERBOSITY = "1"
# The kubelet's own HTTPS port, published on 127.0.0.1 like the apiserver's.
KUBELET_PORT = 10250
# What the harness checks in the running kubelet's configuration (dotted paths of the
# KubeletConfiguration): kubeadm's values, which the kubelet scenarios rely on, with a
# profile's kubelet.config merged over them.
KUBELET_CHECKED = {
    "authentication.anonymous.enabled": False,
    "authentication.webhook.enabled": True,
    "authorization.mode": "Webhook",
}


@dataclass(frozen=True)
class Endpoints:
    """Where the cluster's servers answer, as the node reaches them, and the CA they are
    trusted through (PEM)."""

    issuer_url: str
    ca_pem: str
    webhook_url: str


# What a cluster is rendered with before its servers run (for its hash, which must not change
# from run to run with the servers' ports); the ``servers`` step renders it again with the real
# endpoints before the node is created (:func:`with_endpoints`).
PENDING_ENDPOINTS = Endpoints("https://issuer.authprobe.invalid", "",
                              "https://webhook.authprobe.invalid/authorize")


def webhook_policy(profile: ProfileAt) -> Policy:
    """The webhook's policy as the profile declares it; one line naming a bad rule."""
    data = (profile.authorizer or {}).get("policy") or {"rules": []}
    return parse_policy(data, f"profile {profile.id}: authorizer.policy")


def _check_signing_algs(profile: ProfileAt) -> None:
    """kube-apiserver takes from the --oidc-* flags only the algorithms --oidc-signing-algs
    names (RS256 when it is not given); the cluster's issuer signs with DEFAULT_ALGORITHM."""
    named = profile.extra_args.get("oidc-signing-algs", "RS256").split(",")
    if DEFAULT_ALGORITHM not in named:
        raise AuthprobeError(
            f"profile {profile.id}: the cluster's issuer signs with {DEFAULT_ALGORITHM}, which "
            f"--oidc-signing-algs={','.join(named)} leaves out (RS256 when not given): add "
            f"{DEFAULT_ALGORITHM} to oidc-signing-algs in apiserver.extraArgs")


def server_files(profile: ProfileAt, version: KubeVersion, endpoints: Endpoints
                 ) -> dict[str, str]:
    """The auth files of the profile's ``issuer`` and ``authorizer`` parts at ``version``:
    the AuthenticationConfiguration with the jwt entry pointed at the cluster's issuer (for a
    profile that names the issuer with the --oidc-* flags, the issuer's CA, which
    --oidc-ca-file names), and the AuthorizationConfiguration whose Webhook entry reaches the
    cluster's webhook through the kubeconfig written beside it; each in the apiVersion the
    minor takes (:mod:`authprobe.servers.apiconfig`). A field the minor lacks is one line naming the
    profile."""
    try:
        return _server_files(profile, version, endpoints)
    except AuthprobeError as err:
        line = err.one_line()
        if line.startswith(f"profile {profile.id}"):
            raise
        raise AuthprobeError(f"profile {profile.id} on Kubernetes {version.minor_str}: "
                             f"{line}") from None


def _server_files(profile: ProfileAt, version: KubeVersion, endpoints: Endpoints
                  ) -> dict[str, str]:
    files: dict[str, str] = {}
    if profile.issuer_by_flags:
        _check_signing_algs(profile)
        files[ISSUER_CA_FILE] = endpoints.ca_pem
    elif profile.issuer is not None:
        jwt = apiconfig.jwt_authenticator(endpoints.issuer_url, endpoints.ca_pem,
                                          dict(profile.issuer.get("jwt") or {}))
        files[AUTHENTICATION_FILE] = apiconfig.to_yaml(
            apiconfig.authentication_configuration(version, [jwt]))
    if profile.authorizer is not None:
        webhook_policy(profile)
        chain = []
        for entry in profile.authorizer.get("chain") or []:
            if entry["type"] == "Webhook":
                chain.append(apiconfig.webhook_authorizer(
                    entry.get("name", "webhook"), f"{AUTH_DIR}/{WEBHOOK_KUBECONFIG_FILE}",
                    entry.get("webhook")))
            else:
                chain.append(apiconfig.authorizer(entry["type"], entry.get("name")))
        files[AUTHORIZATION_FILE] = apiconfig.to_yaml(
            apiconfig.authorization_configuration(version, chain))
        files[WEBHOOK_KUBECONFIG_FILE] = apiconfig.to_yaml(
            webhook_kubeconfig(endpoints.webhook_url, endpoints.ca_pem))
    return files


@dataclass(frozen=True)
class HostFacts:
    """What the machine running the nodes needs from the config."""

    cgroup_version: int = 2


@dataclass(frozen=True)
class RenderInput:
    profile: ProfileAt
    version: KubeVersion  # the exact patch release in the node image
    facts: VersionFacts
    image: str
    kind_version: str
    host: HostFacts = HostFacts()
    default_cni: bool = True  # False when the node image carries its own static CNI config
    image_id: str = ""  # the image's content ID, so a retagged image gives another cluster
    audit: bool = True


@dataclass
class Rendered:
    config_hash: str  # covers everything that makes the cluster what it is
    kind_config: str  # YAML for `kind create cluster --config`; mounts point into ``private``
    auth_files: dict[str, str] = field(default_factory=dict)  # file name -> text
    patch_files: dict[str, str] = field(default_factory=dict)  # file name -> text
    # probe changes the harness makes in the manifest after kubeadm init, where kubeadm
    # cannot patch its static pods (versions.yaml kubeadm_patches: false) or the profile
    # makes them by hand (probes.by: hand-edit)
    manifest_probes: dict[str, dict] = field(default_factory=dict)
    # flags the harness adds to or changes in the manifest after kubeadm init, as the profile
    # says they were made by hand (apiserver.handEditedArgs)
    manifest_args: dict[str, str] = field(default_factory=dict)
    expected: dict = field(default_factory=dict)  # what verify checks on the running node
    # What it was rendered from, for :func:`with_endpoints`.
    source: RenderInput | None = field(default=None, repr=False)
    private: str = "@PRIVATE_DIR@"


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the embedded patches) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc) -> str:
    return yaml.dump(doc, Dumper=_Dumper, default_flow_style=False, sort_keys=False)


def apiserver_args(inp: RenderInput, endpoints: Endpoints = PENDING_ENDPOINTS
                   ) -> dict[str, str]:
    """The kube-apiserver flags of the cluster, with auth file references and the issuer's
    URL (``{issuerURL}``) resolved."""
    args = {"token-auth-file": f"{AUTH_DIR}/{TOKEN_FILE}"}
    if inp.audit:
        args.update(AUDIT_ARGS)
    for name, value in inp.profile.extra_args.items():
        args[name] = _auth_paths(value).replace(ISSUER_URL_REF, endpoints.issuer_url)
    return args


def _auth_paths(value: str) -> str:
    """A flag's value with its auth file references as paths inside the node."""
    return AUTH_FILE_REF.sub(lambda m: f"{AUTH_DIR}/{m.group(1)}", value)


def probe_patches(inp: RenderInput) -> dict[str, str]:
    """kubeadm patch files for the kube-apiserver static pod (empty if probes are unchanged)."""
    profile, files = inp.profile, {}
    if profile.probes:
        container = {"name": "kube-apiserver"}
        for name, probe in profile.probes.items():
            container[name] = {**({"httpGet": dict(probe.http_get)} if probe.http_get else {}),
                               **dict(probe.timing)}
        files["kube-apiserver0+strategic.yaml"] = dump({"spec": {"containers": [container]}})
    if profile.named_port is not None and inp.facts.named_probe_port:
        ops = [
            {"op": "test", "path": "/spec/containers/0/name", "value": "kube-apiserver"},
            {"op": "test", "path": "/spec/containers/0/ports/0/name", "value": "probe-port"},
            {"op": "replace", "path": "/spec/containers/0/ports/0/containerPort",
             "value": profile.named_port},
        ]
        files["kube-apiserver1+json.yaml"] = dump(ops)
    return files


def kubeadm_patches(inp: RenderInput, with_patch_dir: bool,
                    endpoints: Endpoints = PENDING_ENDPOINTS) -> list[str]:
    volumes = [{"name": "authprobe-auth", "hostPath": AUTH_DIR, "mountPath": AUTH_DIR,
                "readOnly": True, "pathType": "Directory"}]
    if inp.audit:
        volumes.append({"name": "authprobe-audit", "hostPath": AUDIT_DIR, "mountPath": AUDIT_DIR,
                        "readOnly": False, "pathType": "DirectoryOrCreate"})
    patches = [dump({"kind": "ClusterConfiguration",
                     "apiServer": {"extraArgs": apiserver_args(inp, endpoints),
                                   "extraVolumes": volumes}})]
    init = {"kind": "InitConfiguration",
            "nodeRegistration": {"kubeletExtraArgs": {"v": KUBELET_VERBOSITY}}}
    if with_patch_dir:
        init["patches"] = {"directory": PATCHES_DIR}
    patches.append(dump(init))
    kubelet = copy.deepcopy(dict(inp.profile.kubelet_config))
    if inp.host.cgroup_version == 1 and inp.facts.kubelet_fail_cgroup_v1:
        kubelet["failCgroupV1"] = False
    if kubelet:
        patches.append(dump({"kind": "KubeletConfiguration", **kubelet}))
    return patches


def kubelet_expected(inp: RenderInput) -> dict:
    """The kubelet settings verify checks: kubeadm's, with the profile's merged over them."""
    return {**KUBELET_CHECKED, **flatten(dict(inp.profile.kubelet_config))}


def _config(inp: RenderInput, private: str, patch_files: dict[str, str],
            endpoints: Endpoints = PENDING_ENDPOINTS) -> str:
    mounts = [{"hostPath": f"{private}/auth", "containerPath": AUTH_DIR, "readOnly": True}]
    if patch_files:
        mounts.append({"hostPath": f"{private}/patches", "containerPath": PATCHES_DIR,
                       "readOnly": True})
    # -1: Docker picks the published port when it starts the node. With 0 kind picks one by
    # opening and closing a listener, which races when several clusters start at once.
    networking = {"apiServerAddress": "127.0.0.1", "apiServerPort": -1}
    if not inp.default_cni:
        networking["disableDefaultCNI"] = True
    # The kubelet's port too, on 127.0.0.1 only, the host port left to Docker as above.
    ports = [{"containerPort": KUBELET_PORT, "hostPort": -1, "listenAddress": "127.0.0.1",
              "protocol": "TCP"}]
    return dump({
        "kind": "Cluster",
        "apiVersion": KIND_CONFIG_API,
        "networking": networking,
        "nodes": [{"role": "control-plane", "image": inp.image, "extraMounts": mounts,
                   "extraPortMappings": ports}],
        "kubeadmConfigPatches": kubeadm_patches(inp, bool(patch_files), endpoints),
    })


def audit_policy(profile: ProfileAt) -> dict:
    """AUDIT_POLICY, with the users of the profile's access table audited too (the real
    request of each entry is matched to its audit record)."""
    users = profile.rbac.audited_users() if profile.rbac is not None else []
    if not users:
        return AUDIT_POLICY
    policy = copy.deepcopy(AUDIT_POLICY)
    policy["rules"].insert(-1, {"level": "Metadata", "users": users})
    return policy


def _auth_files(inp: RenderInput, endpoints: Endpoints) -> dict[str, str]:
    auth_files = {name: dump(doc) for name, doc in inp.profile.auth_files.items()}
    auth_files.update(server_files(inp.profile, inp.version, endpoints))
    if inp.audit:
        auth_files[AUDIT_POLICY_FILE] = dump(audit_policy(inp.profile))
    return auth_files


def render(inp: RenderInput, private: str = "@PRIVATE_DIR@",
           endpoints: Endpoints = PENDING_ENDPOINTS) -> Rendered:
    """Render the cluster for ``inp``; ``private`` is the host folder of its files,
    ``endpoints`` where its servers answer (:func:`with_endpoints`).

    The hash covers the config (with file locations left out), the patch and auth files, the
    node image (name and content ID) and the kind version, so any change gives another hash;
    it is computed from the rendering with :data:`PENDING_ENDPOINTS` whatever ``endpoints``.
    """
    by_kubeadm = inp.facts.kubeadm_patches and inp.profile.probes_by != "hand-edit"
    patch_files = probe_patches(inp) if by_kubeadm else {}
    manifest_probes = {} if by_kubeadm else {
        name: {**dict(p.http_get), **dict(p.timing)} for name, p in inp.profile.probes.items()}
    manifest_args = {name: _auth_paths(value)
                     for name, value in inp.profile.hand_edited_args.items()}
    auth_files = _auth_files(inp, endpoints)
    identity = {
        "config": _config(inp, "@PRIVATE_DIR@", patch_files),
        "patches": patch_files,
        "manifest_probes": manifest_probes,
        **({"manifest_args": manifest_args} if manifest_args else {}),
        "auth": auth_files if endpoints == PENDING_ENDPOINTS
        else _auth_files(inp, PENDING_ENDPOINTS),
        "version": str(inp.version),
        "kind": inp.kind_version,
        "image_id": inp.image_id,
        **({"rbac": inp.profile.rbac.fingerprint()} if inp.profile.rbac is not None else {}),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    expected = {
        "args": {**apiserver_args(inp, endpoints), **manifest_args},
        "probes": {name: {**dict(p.http_get), **dict(p.timing)}
                   for name, p in inp.profile.probes.items()},
        "named_port": inp.profile.named_port if inp.facts.named_probe_port else None,
        "auth_files": sorted([TOKEN_FILE, *auth_files]),
        "mounts": [AUTH_DIR] + ([AUDIT_DIR] if inp.audit else []),
        "kubelet": kubelet_expected(inp),
        # kubeadm leaves --authorization-mode out beside --authorization-config (from the
        # 1.30 cycle, kubernetes#123651); kube-apiserver refuses the two together.
        "absent_args": ["authorization-mode"] if "authorization-config" in inp.profile.extra_args
        else [],
    }
    return Rendered(config_hash=digest,
                    kind_config=_config(inp, private, patch_files, endpoints),
                    auth_files=auth_files, patch_files=patch_files,
                    manifest_probes=manifest_probes, manifest_args=manifest_args,
                    expected=expected, source=inp, private=private)


def with_endpoints(rendered: Rendered, endpoints: Endpoints) -> Rendered:
    """The same cluster rendered again with where its servers answer: the auth files naming
    them, and the kube-apiserver flags that do (``--oidc-issuer-url``) in the kind config and
    in what verify checks. Its hash stays that of the pending rendering."""
    if rendered.source is None:
        raise ValueError("a rendering made without its input cannot be rendered again")
    return render(rendered.source, rendered.private, endpoints)


def token_file_text(token: str, user: str = ADMIN_USER) -> str:
    """The static token file line of one of TOKEN_USERS (CSV ``token,user,uid[,"groups"]``)."""
    if user not in TOKEN_USERS:
        raise ValueError(f"{user!r} is not one of the clusters' token users")
    uid = ADMIN_UID if user == ADMIN_USER else f"authprobe-{user}"
    return _token_line(token, user, uid, TOKEN_USERS[user])


def access_token_text(token: str, user: str, groups: tuple[str, ...]) -> str:
    """The static token file line of a user of a profile's access table."""
    if user in TOKEN_USERS:
        raise ValueError(f"{user!r} is one of the clusters' own token users")
    return _token_line(token, user, f"access:{user}", groups)


def _token_line(token: str, user: str, uid: str, groups: tuple[str, ...]) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,}", token):
        raise ValueError(f"the token of {user} must be at least 16 URL-safe characters")
    joined = ",".join(groups)
    return f"{token},{user},{uid}" + (f',"{joined}"' if joined else "") + "\n"


def users_of_token_file(text: str, others: tuple[str, ...] = ()) -> dict[str, str]:
    """User -> token, read back from a token file the harness wrote: TOKEN_USERS' and
    those of ``others`` (a profile's access table)."""
    found = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and (parts[1] in TOKEN_USERS or parts[1] in others):
            found[parts[1]] = parts[0]
    return found
