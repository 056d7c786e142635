"""kube-apiserver's debug pages /statusz and /flagz (z-pages, gates ComponentStatusz and
ComponentFlagz: alpha in 1.32, on by default from 1.36). RBAC decides before the page
exists: anonymous requests are refused as any other path, cluster-admin gets 404 while the
gate is off and the page from 1.36, and system:monitoring may read them once the gates put
them in its role. The apiserver's audit record of each request says who it took it to be.
What each scenario records is judged by its row, field by field (scenarios/observations.yaml)."""

from authprobe.scenario import answered, status_message

STATUSZ = "/statusz"
FLAGZ = "/flagz"


def page_message(response) -> str:
    """A Status answer's message; a page's first line (its header) otherwise."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return status_message(response)
    lines = [line.strip() for line in response.text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def get_page(cluster, client, path, observe) -> None:
    response = answered(lambda: client.get(path))
    observe(path=path, status=response.status_code, message=page_message(response))
    observe.audit(cluster.audit.record_of(response))


def admin_before_and_after(cluster, path, observe, cluster_admin_binding):
    get_page(cluster, cluster.admin, path, observe)
    with cluster_admin_binding():
        after = answered(lambda: cluster.admin.get(path))
    observe(status_after=after.status_code)
    observe.evidence(audit_after=cluster.audit.record_of(after).to_dict(),
                     message_after=page_message(after))


def test_apiserver_statusz_anonymous(cluster, observe):
    """No credentials on /statusz: refused like any path but the health ones (403 as
    system:anonymous, or 401 where anonymous requests are off or limited)."""
    get_page(cluster, cluster.anonymous, STATUSZ, observe)


def test_apiserver_statusz_admin(cluster, observe, cluster_admin_binding):
    """User admin on /statusz: 403 before the cluster-admin binding; after it, 404 while
    the ComponentStatusz gate is off, the page once it is on (1.36)."""
    admin_before_and_after(cluster, STATUSZ, observe, cluster_admin_binding)


def test_apiserver_statusz_monitoring(cluster, observe):
    """A member of system:monitoring on /statusz: the role grants the page only where the
    gate is on (1.36), 403 before."""
    get_page(cluster, cluster.as_user("monitor"), STATUSZ, observe)


def test_apiserver_flagz_anonymous(cluster, observe):
    """No credentials on /flagz: refused like any path but the health ones."""
    get_page(cluster, cluster.anonymous, FLAGZ, observe)


def test_apiserver_flagz_admin(cluster, observe, cluster_admin_binding):
    """User admin on /flagz: 403 before the cluster-admin binding; after it, 404 while the
    ComponentFlagz gate is off, the running flags once it is on (1.36)."""
    admin_before_and_after(cluster, FLAGZ, observe, cluster_admin_binding)


def test_apiserver_flagz_monitoring(cluster, observe):
    """A member of system:monitoring on /flagz: allowed only where the gate is on (1.36)."""
    get_page(cluster, cluster.as_user("monitor"), FLAGZ, observe)
