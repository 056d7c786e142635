"""The Dashboard through the apiserver's service proxy: nobody gets in anonymously, and
user admin sees it only after the cluster-admin binding."""

from authprobe.scenario import answered, check_audit, status_message

DASHBOARD = "/api/v1/namespaces/kubernetes-dashboard/services/https:kubernetes-dashboard:/proxy/"
# Answers with or without the Dashboard's web front end: the Dashboard's LoginStatus
# (tokenPresent, headerPresent, httpsMode, impersonationPresent, impersonatedUser), an
# object no apiserver serves.
LOGIN_STATUS = DASHBOARD + "api/v1/login/status"


def observed(cluster, response, observe):
    observe(status=response.status_code, message=status_message(response))
    return observe.audit(cluster.audit.record_of(response))


def test_anonymous_dashboard_proxy(cluster, expected, observe):
    response = answered(lambda: cluster.anonymous.get(DASHBOARD))
    record = observed(cluster, response, observe)
    assert response.status_code == expected.status
    assert expected.message in status_message(response)
    check_audit(record, expected)


def test_admin_dashboard_proxy_before_binding(cluster, expected, observe):
    response = answered(lambda: cluster.admin.get(DASHBOARD))
    record = observed(cluster, response, observe)
    assert response.status_code == expected.status
    assert expected.message in status_message(response)
    check_audit(record, expected)


def test_admin_dashboard_after_binding(cluster, expected, observe, cluster_admin_binding):
    """With the cluster-admin binding user admin reaches the Dashboard itself: its login
    status answers over HTTPS (httpsMode) and without the admin's Authorization header,
    which the apiserver's proxy does not pass on."""
    cluster.dashboard_ready()
    with cluster_admin_binding():
        response = answered(lambda: cluster.admin.get(LOGIN_STATUS))
        record = observed(cluster, response, observe)
    assert response.status_code == expected.status
    assert response.headers.get("Content-Type", "").startswith("application/json")
    assert isinstance(response.json(), dict), response.text[:200]
    assert expected.message in status_message(response)
    check_audit(record, expected)
