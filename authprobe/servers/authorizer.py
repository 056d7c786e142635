"""A webhook authorizer for one cluster: answers kube-apiserver's SubjectAccessReviews.

kube-apiserver, given this webhook in an ``AuthorizationConfiguration`` (or
``--authorization-webhook-config-file``), POSTs a ``SubjectAccessReview``
(``authorization.k8s.io/v1``, or ``v1beta1`` when the configuration says so) for each request
the chain reaches it with, and reads back ``status``: ``allowed: true`` allows, ``denied:
true`` denies at once, both false is "no opinion" and the chain goes on. The answers come from
a :class:`~authprobe.servers.policy.Policy` the profile declares.

Every review answered is a record (time, client, subject, attributes, decision, reason, the
rule that decided): the evidence of a webhook decision next to the apiserver's audit record.
A scenario stops the server to see the chain without it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from ..paths import write_private
from .https import HttpsService, Reply, Request
from .pki import ServingCert
from .policy import Policy, Review

REVIEW_PATH = "/authorize"
GROUP = "authorization.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1")


class BadReview(ValueError):
    """A body that is not a SubjectAccessReview kube-apiserver would send."""


def parse_review(body: bytes) -> tuple[str, Review]:
    """The apiVersion and the matchable spec of a SubjectAccessReview body."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise BadReview(f"body is not JSON: {err}") from err
    if not isinstance(data, dict) or data.get("kind") != "SubjectAccessReview":
        raise BadReview("body is not a SubjectAccessReview")
    api_version = data.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise BadReview(f"apiVersion {api_version!r} is not one of {', '.join(API_VERSIONS)}")
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise BadReview("SubjectAccessReview has no spec")
    # v1 names the subject's groups "groups"; v1beta1 named the same list "group".
    groups = spec.get("groups" if api_version.endswith("/v1") else "group") or []
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise BadReview("spec needs exactly one of resourceAttributes and "
                        "nonResourceAttributes")
    review = Review(user=str(spec.get("user", "")), groups=tuple(str(g) for g in groups),
                    uid=str(spec.get("uid", "")), extra=dict(spec.get("extra") or {}),
                    resource=dict(resource) if resource is not None else None,
                    non_resource=dict(non_resource) if non_resource is not None else None)
    return api_version, review


def review_status(decision: str, reason: str) -> dict:
    """The ``status`` of the answer, as the webhook protocol reads it."""
    return {"allowed": decision == "allow", "denied": decision == "deny", "reason": reason}


class Authorizer(HttpsService):
    """The webhook of one cluster, answering at :attr:`review_url` once started."""

    name = "webhook authorizer"

    def __init__(self, serving: ServingCert, host: str, policy: Policy, port: int = 0) -> None:
        super().__init__(serving, host, port)
        self.policy = policy

    @property
    def review_url(self) -> str:
        return self.url + REVIEW_PATH

    def respond(self, request: Request) -> Reply:
        if request.path != REVIEW_PATH:
            return Reply(404, {"error": "not found"})
        if request.method != "POST":
            return Reply(405, {"error": "SubjectAccessReviews are POSTed"})
        try:
            api_version, review = parse_review(request.body)
        except BadReview as err:
            return Reply(400, {"error": str(err)}, {"error": str(err)})
        decided = self.policy.decide(review)
        status = review_status(decided.decision, decided.reason)
        attributes = ({"resourceAttributes": review.resource} if review.resource is not None
                      else {"nonResourceAttributes": review.non_resource})
        detail = {"apiVersion": api_version,
                  "subject": {"user": review.user, "groups": list(review.groups),
                              "uid": review.uid, "extra": review.extra},
                  **attributes, "decision": decided.decision, "reason": decided.reason,
                  "rule": decided.rule}
        return Reply(200, {"apiVersion": api_version, "kind": "SubjectAccessReview",
                           "status": status}, detail)


def webhook_kubeconfig(server_url: str, ca_pem: str, name: str = "authprobe-webhook") -> dict:
    """The kubeconfig kube-apiserver reads to reach the webhook (``connectionInfo: {type:
    KubeConfigFile, kubeConfigFile: ...}``): the server URL, trusted through the cluster's CA."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server_url,
            "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}}],
        "users": [{"name": "kube-apiserver", "user": {}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "kube-apiserver"}}],
        "current-context": name,
    }


def write_webhook_kubeconfig(path: Path, server_url: str, ca_pem: str) -> Path:
    """Write :func:`webhook_kubeconfig` to ``path`` (mode 0600, as every file of the cluster's
    private folder)."""
    write_private(path, yaml.safe_dump(webhook_kubeconfig(server_url, ca_pem), sort_keys=False))
    return path
