"""A team's RBAC in its cluster: the lifecycle step that applies the profile's RBAC folder
after bring-up and gets a token for each service account of its access table, and the read
back of what the cluster holds of each object (the scenarios compare it with the folder;
after an upgrade in place too, with nothing applied again).

Every object is created, or replaced whole where it exists (a copy of a built-in ClusterRole
such as ``edit`` takes the place of the built-in one, its aggregationRule gone with it). The
commands run in the node with kubectl as cluster-admin, as a team applies its folder.
"""

from __future__ import annotations

import json
from collections import Counter

import kubernetes
from kubernetes.client.exceptions import ApiException

from ..errors import AuthprobeError
from ..model.access import Subject
from ..model.rbac import KINDS, RBAC_GROUP, Manifest, RbacPart
from ..model.timeouts import calls
from .access import NodeAccess
from .state import ClusterState

# How long a service account token the step gets lives: the cluster's whole life in a run
# (an upgrade run keeps a cluster for two minors' scenarios and the upgrade between them).
SERVICE_ACCOUNT_TOKEN_SECONDS = 6 * 3600


def resource_of(manifest: Manifest) -> str:
    """The resource kubectl names the manifest's kind by (``clusterroles.rbac...``)."""
    spec = KINDS[manifest.kind]
    return spec.resource if spec.api_version == "v1" else f"{spec.resource}.{RBAC_GROUP}"


def _where(manifest: Manifest) -> list[str]:
    return ["-n", manifest.namespace] if manifest.namespace else []


def read_object(node: NodeAccess, manifest: Manifest) -> dict | None:
    """The object as the cluster holds it (None: it has none of that name)."""
    result = node.kubectl("get", resource_of(manifest), manifest.name, *_where(manifest),
                          "--ignore-not-found", "-o", "json", timeout=calls().node_read)
    text = result.stdout.strip()
    return json.loads(text) if text else None


def put_object(node: NodeAccess, manifest: Manifest) -> str:
    """Create the object, or replace it whole where it exists; "created" or "replaced"."""
    verb = "replace" if read_object(node, manifest) is not None else "create"
    result = node.kubectl(verb, "-f", "-", input=json.dumps(manifest.body()), check=False,
                          timeout=calls().node_slow)
    if result.returncode:
        said = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise AuthprobeError(f"{manifest.source} ({manifest.label}): kube-apiserver refused "
                             f"it: {said[0]}")
    return "created" if verb == "create" else "replaced"


def read_back(node: NodeAccess, rbac: RbacPart) -> list[tuple[Manifest, dict | None]]:
    """Each object of the folder with what the cluster holds of it."""
    return [(manifest, read_object(node, manifest)) for manifest in rbac.manifests]


def service_account_token(api, subject: Subject) -> str:
    """A token of the service account, from a TokenRequest (audience: kube-apiserver's)."""
    request = kubernetes.client.AuthenticationV1TokenRequest(
        spec=kubernetes.client.V1TokenRequestSpec(
            audiences=[], expiration_seconds=SERVICE_ACCOUNT_TOKEN_SECONDS))
    try:
        answer = kubernetes.client.CoreV1Api(api).create_namespaced_service_account_token(
            subject.name, subject.namespace, request)
    except ApiException as err:
        if err.status == 404:
            raise AuthprobeError(
                f"the access table's {subject.reads()} does not exist in the cluster: add "
                "it to the profile's RBAC folder (a ServiceAccount manifest)") from None
        raise AuthprobeError(f"a token of {subject.reads()}: kube-apiserver answered "
                             f"{err.status} {err.reason}") from None
    return answer.status.token


def apply(env, run: ClusterState) -> str:
    """Apply the profile's RBAC folder (namespaces and service accounts first, bindings last)
    and get a token for each service account of its access table (registered as a secret
    of the run, kept in the cluster's record beside the static tokens)."""
    rbac = run.profile.rbac
    done = Counter(put_object(run.node, manifest) for manifest in rbac.manifests)
    said = []
    if rbac.manifests:
        kinds = Counter(m.kind for m in rbac.manifests)
        said.append(f"{len(rbac.manifests)} objects of {rbac.manifests_dir} ("
                    + ", ".join(f"{n} {k}" for k, n in kinds.items()) + "): "
                    + ", ".join(f"{n} {verb}" for verb, n in sorted(done.items())))
    accounts = rbac.access.service_accounts() if rbac.access is not None else []
    for subject in accounts:
        token = service_account_token(run.found.api, subject)
        env.register_secret(token)
        run.tokens[subject.identity.user] = token
    if accounts:
        said.append(f"a token for each of {len(accounts)} service accounts")
    return "; ".join(said)
