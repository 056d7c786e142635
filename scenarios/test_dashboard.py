"""The Dashboard through the apiserver's service proxy: nobody gets in anonymously, and
user admin sees it only after the cluster-admin binding. What each scenario records is judged
by its row, field by field (scenarios/observations.yaml)."""

from authprobe.scenario import answered, status_message

DASHBOARD = "/api/v1/namespaces/kubernetes-dashboard/services/https:kubernetes-dashboard:/proxy/"
# Answers with or without the Dashboard's web front end: the Dashboard's LoginStatus
# (tokenPresent, headerPresent, httpsMode, impersonationPresent, impersonatedUser), an
# object no apiserver serves.
LOGIN_STATUS = DASHBOARD + "api/v1/login/status"


def observed(cluster, response, observe) -> None:
    observe(status=response.status_code, message=status_message(response))
    observe.audit(cluster.audit.record_of(response))


def test_anonymous_dashboard_proxy(cluster, expected, observe):
    """No credentials on the Dashboard's proxy path: refused as system:anonymous (403), or
    401 where anonymous requests are off or limited, with no WWW-Authenticate header."""
    response = answered(lambda: cluster.anonymous.get(DASHBOARD))
    observed(cluster, response, observe)
    observe(www_authenticate=response.headers.get("WWW-Authenticate"))
    if expected.www_authenticate is False:  # not even an empty one
        assert "WWW-Authenticate" not in response.headers


def test_admin_dashboard_proxy_before_binding(cluster, observe):
    observed(cluster, answered(lambda: cluster.admin.get(DASHBOARD)), observe)


def test_admin_dashboard_after_binding(cluster, observe, cluster_admin_binding):
    """With the cluster-admin binding user admin reaches the Dashboard itself: its login
    status answers over HTTPS (httpsMode) and without the admin's Authorization header,
    which the apiserver's proxy does not pass on."""
    cluster.dashboard_ready()
    with cluster_admin_binding():
        response = answered(lambda: cluster.admin.get(LOGIN_STATUS))
        observed(cluster, response, observe)
    if response.status_code == 200:
        assert response.headers.get("Content-Type", "").startswith("application/json")
        assert isinstance(response.json(), dict), response.text[:200]
