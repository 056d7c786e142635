"""User admin authenticates but RBAC denies it everything, naming the exact resource and
scope, until the cluster-admin binding is made. What each scenario records is judged by its
row, field by field (scenarios/observations.yaml)."""

from authprobe.scenario import answered, status_message


def denied_then_allowed(cluster, path, observe, cluster_admin_binding) -> None:
    before = answered(lambda: cluster.admin.get(path))
    observe.audit(cluster.audit.record_of(before))
    with cluster_admin_binding():
        after = answered(lambda: cluster.admin.get(path))
    observe(path=path, status=before.status_code, message=status_message(before),
            status_after=after.status_code)


def test_admin_list_pods_in_kube_system(cluster, observe, cluster_admin_binding):
    denied_then_allowed(cluster, "/api/v1/namespaces/kube-system/pods", observe,
                        cluster_admin_binding)


def test_admin_list_nodes(cluster, observe, cluster_admin_binding):
    denied_then_allowed(cluster, "/api/v1/nodes", observe, cluster_admin_binding)
