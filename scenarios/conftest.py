"""Fixtures the scenarios share: the story's cluster-admin binding for user "admin", and
narrow roles for the other token users; and the steps of an upgrade that change two default
roles before it and record what reconciliation did to them (scenario
default_roles_after_upgrade)."""

from __future__ import annotations

from contextlib import contextmanager

import kubernetes
import pytest
from kubernetes.client import (
    RbacV1Subject,
    V1ClusterRole,
    V1ClusterRoleBinding,
    V1ObjectMeta,
    V1PolicyRule,
    V1ResourceAttributes,
    V1Role,
    V1RoleBinding,
    V1RoleRef,
    V1SubjectAccessReview,
    V1SubjectAccessReviewSpec,
)
from kubernetes.client.exceptions import ApiException

from authprobe.harness import role_edits
from authprobe.harness.readiness import wait_ready
from authprobe.model.timeouts import waits
from authprobe.scenario import answered, wait_for_status
from authprobe.wait import until

BINDING = "login-on-dashboard-with-cluster-admin"
# A request user "admin" may make only with the binding in place.
ADMIN_PROBE_PATH = "/api/v1/nodes"


def pytest_authprobe_lifecycle_steps(config):
    """An upgrade in place takes a permission out of two default roles before it and
    records what the upgraded kube-apiserver's reconciliation did to them after it."""
    return list(role_edits.STEPS)


@pytest.fixture
def cluster_admin_binding(cluster):
    """``with cluster_admin_binding():`` runs a block with user admin bound to cluster-admin.

    The same binding as ``kubectl create clusterrolebinding
    login-on-dashboard-with-cluster-admin --clusterrole=cluster-admin --user=admin``; it
    is removed when the block ends, and the block starts only once RBAC lets admin in.
    """
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api)

    def serving() -> None:
        # A kube-apiserver that has just (re)started answers before its RBAC caches are
        # filled and denies even kind's cluster-admin (group kubeadm:cluster-admins) with
        # 'clusterrole "cluster-admin" not found'; anon-off's restarts make that likely.
        wait_ready(cluster.admin, cluster.api, cluster.version, timeout=waits().apiserver_back,
                   what=f"kube-apiserver of {cluster.name} ready for an RBAC change")

    def delete_binding() -> None:
        serving()
        try:
            answered(lambda: rbac.delete_cluster_role_binding(BINDING))
        except ApiException as err:
            if err.status != 404:
                raise

    @contextmanager
    def bound():
        body = V1ClusterRoleBinding(
            metadata=V1ObjectMeta(name=BINDING),
            role_ref=V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                               name="cluster-admin"),
            subjects=[RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User",
                                    name="admin")],
        )
        serving()
        answered(lambda: rbac.create_cluster_role_binding(body))
        try:
            allowed = wait_for_status(lambda: cluster.admin.get(ADMIN_PROBE_PATH), 200)
            assert allowed.status_code == 200, (
                f"user admin is still denied {allowed.status_code} after the binding was made")
            yield
        finally:
            delete_binding()
            denied = wait_for_status(lambda: cluster.admin.get(ADMIN_PROBE_PATH), 403)
            assert denied.status_code == 403, "user admin kept its access after the binding went"

    return bound



@pytest.fixture
def granted(cluster):
    """``with granted(user, verbs, resource, namespace=None, kind="User"):`` runs a block
    with ``user`` (a group with ``kind="Group"``) bound to a role allowing only ``verbs`` on
    ``resource`` ("nodes/healthz": a subresource), a ClusterRole when ``namespace`` is None,
    else a Role there.

    Both are removed when the block ends; the block starts once a SubjectAccessReview says
    the apiserver's RBAC allows it, so no answer is judged on a binding not yet seen.
    """
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api)
    authz = kubernetes.client.AuthorizationV1Api(cluster.api)

    @contextmanager
    def bound(user: str, verbs: list[str], resource: str, namespace: str | None = None,
              kind: str = "User"):
        name = f"authprobe-{user}"
        group_resource, _, sub = resource.partition("/")
        rule = V1PolicyRule(api_groups=[""], resources=[resource], verbs=verbs)
        subject = RbacV1Subject(api_group="rbac.authorization.k8s.io", kind=kind, name=user)
        role_kind = "ClusterRole" if namespace is None else "Role"
        ref = V1RoleRef(api_group="rbac.authorization.k8s.io", kind=role_kind, name=name)
        meta = V1ObjectMeta(name=name, namespace=namespace)
        if namespace is None:
            make = [lambda: rbac.create_cluster_role(V1ClusterRole(metadata=meta, rules=[rule])),
                    lambda: rbac.create_cluster_role_binding(V1ClusterRoleBinding(
                        metadata=meta, role_ref=ref, subjects=[subject]))]
            remove = [lambda: rbac.delete_cluster_role_binding(name),
                      lambda: rbac.delete_cluster_role(name)]
        else:
            make = [lambda: rbac.create_namespaced_role(namespace, V1Role(metadata=meta,
                                                                          rules=[rule])),
                    lambda: rbac.create_namespaced_role_binding(namespace, V1RoleBinding(
                        metadata=meta, role_ref=ref, subjects=[subject]))]
            remove = [lambda: rbac.delete_namespaced_role_binding(name, namespace),
                      lambda: rbac.delete_namespaced_role(name, namespace)]
        who = {"user": user} if kind == "User" else {"user": "authprobe-member",
                                                      "groups": [user]}
        review = V1SubjectAccessReview(spec=V1SubjectAccessReviewSpec(
            **who, resource_attributes=V1ResourceAttributes(
                verb=verbs[0], resource=group_resource, subresource=sub or None,
                namespace=namespace)))

        def allowed() -> bool:
            return answered(lambda: authz.create_subject_access_review(review)).status.allowed

        for step in make:
            try:
                answered(step)
            except ApiException as err:
                if err.status != 409:  # left by an interrupted run: kept as it is
                    raise
        try:
            until(allowed, timeout=waits().rbac_change, interval=1.0,
                  what=f"RBAC to allow {user} {verbs[0]} {resource}")
            yield
        finally:
            for step in remove:
                try:
                    answered(step)
                except ApiException as err:
                    if err.status != 404:
                        raise

    return bound
