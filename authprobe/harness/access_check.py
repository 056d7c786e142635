"""An access table checked on one cluster: each entry asked of kube-apiserver as a
SubjectAccessReview (posted as cluster-admin, with kubectl in the node) and made as a real
request with its subject's token (the cluster's static token of a user or of a group's
member, a service account's from a TokenRequest), whose audit record says whom kube-apiserver
took it for. The cluster's discovery says which resources its minor serves; an entry whose
resource it does not serve is checked all the same (RBAC authorizes a request before
anything looks for the resource) and said.

What is compared, and how, is :mod:`authprobe.model.access`.
"""

from __future__ import annotations

import json

import requests

from ..errors import AuthprobeError
from ..model.access import (
    AccessTable,
    Checked,
    Entry,
    Identity,
    Request,
    request_for,
    review_body,
    verdict_of_review,
    verdict_of_status,
)
from ..model.apiresources import ApiResources, from_discovery
from ..model.timeouts import calls, waits
from .access import HttpClient, NodeAccess
from .readiness import answered


def _get_json(client: HttpClient, path: str) -> dict:
    response = client.get(path)
    if response.status_code != 200:
        raise AuthprobeError(f"discovery: GET {path} answered {response.status_code}")
    return response.json()


def discover(client: HttpClient) -> ApiResources:
    """The resources the cluster serves, from its discovery (which every authenticated user
    may read: system:discovery)."""
    core = _get_json(client, "/api/v1")
    groups = _get_json(client, "/apis")
    versions = {}
    for group in groups.get("groups") or []:
        for version in group.get("versions") or []:
            versions[version["groupVersion"]] = _get_json(
                client, f"/apis/{version['groupVersion']}")
    return from_discovery(core, groups, versions)


def review(node: NodeAccess, entry: Entry) -> dict:
    """The status of a SubjectAccessReview about the entry, posted as cluster-admin."""
    result = node.kubectl("create", "-f", "-", "-o", "json",
                          input=json.dumps(review_body(entry)), timeout=calls().node_read)
    return json.loads(result.stdout).get("status") or {}


def send(client: HttpClient, request: Request) -> requests.Response:
    """The real request (asked again while kube-apiserver cannot be reached); a watch's
    stream is closed once its status is read."""
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    response = answered(
        lambda: client.request(request.method, request.path, params=list(request.params),
                               data=request.body, headers=headers, stream=request.stream),
        waits().apiserver_back, f"an answer to {request.reads()}", quiet=True)
    response.close()
    return response


def check_entry(cluster, entry: Entry, expected: str, served: ApiResources) -> Checked:
    """One entry, both ways, on ``cluster`` (a scenario's ClusterHandle)."""
    status = review(cluster.node, entry)
    version = served.version(entry.api_group, entry.resource) if not entry.path else None
    request = request_for(entry, version)
    client = cluster.as_user(entry.subject.identity.user)
    try:
        response = send(client, request)
    finally:
        client.close()
    record = cluster.audit.record_of(response)
    return Checked(
        entry=entry, expected=expected, review=verdict_of_review(status),
        request=verdict_of_status(response.status_code), status=response.status_code,
        seen=Identity(record.user, tuple(record.groups)) if record.user else None,
        served=bool(entry.path) or version is not None,
        reason=status.get("reason") or status.get("evaluationError") or "",
        decision=record.decision, sent=request.reads())


def check_table(cluster, table: AccessTable) -> tuple[list[Checked], list[str]]:
    """Every entry of the table that holds on the cluster's version, checked; and the
    labels of those that start on a later version (not checked)."""
    served = discover(cluster.admin)
    checks, later = [], []
    for entry in table.entries:
        expected = entry.expected_at(cluster.version)
        if expected is None:
            later.append(entry.label)
            continue
        checks.append(check_entry(cluster, entry, expected, served))
    return checks, later
