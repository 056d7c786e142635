"""Fixtures the scenarios share: the story's cluster-admin binding for user "admin"."""

from __future__ import annotations

from contextlib import contextmanager

import kubernetes
import pytest
from kubernetes.client import RbacV1Subject, V1ClusterRoleBinding, V1ObjectMeta, V1RoleRef
from kubernetes.client.exceptions import ApiException

from authprobe.harness.readiness import wait_ready
from authprobe.scenario import answered, wait_for_status

BINDING = "login-on-dashboard-with-cluster-admin"
# A request user "admin" may make only with the binding in place.
ADMIN_PROBE_PATH = "/api/v1/nodes"


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
        wait_ready(cluster.admin, cluster.api, cluster.version, timeout=420.0,
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

