"""User admin authenticates but RBAC denies it everything, naming the exact resource and
scope, until the cluster-admin binding is made."""

from authprobe.scenario import answered, check_audit, status_message


def denied_then_allowed(cluster, path, expected, observe, cluster_admin_binding):
    before = answered(lambda: cluster.admin.get(path))
    record = observe.audit(cluster.audit.record_of(before))
    with cluster_admin_binding():
        after = answered(lambda: cluster.admin.get(path))
    observe(path=path, status=before.status_code, message=status_message(before),
            status_after=after.status_code)
    assert before.status_code == expected.status
    assert expected.message in status_message(before)
    assert after.status_code == expected.status_after
    check_audit(record, expected)


def test_admin_list_pods_in_kube_system(cluster, expected, observe, cluster_admin_binding):
    denied_then_allowed(cluster, "/api/v1/namespaces/kube-system/pods", expected, observe,
                        cluster_admin_binding)


def test_admin_list_nodes(cluster, expected, observe, cluster_admin_binding):
    denied_then_allowed(cluster, "/api/v1/nodes", expected, observe, cluster_admin_binding)
