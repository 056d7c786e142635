"""A browser with no credentials: the request runs as system:anonymous (or is refused
outright when anonymous auth is off), and only the health endpoints may answer it. The
apiserver's audit record of each request says who it took the request to be. What the
scenario records is judged by its row, field by field (scenarios/observations.yaml)."""

from authprobe.scenario import answered, settled_health, status_message

HEALTH = ("/livez", "/readyz", "/healthz")


def get_anonymously(cluster, path, observe):
    if path in HEALTH:
        response, failed = settled_health(lambda: cluster.anonymous.get(path))
        if failed:
            observe.evidence(failed_checks_before=failed)
    else:
        response = answered(lambda: cluster.anonymous.get(path))
    observe(path=path, status=response.status_code, message=status_message(response),
            www_authenticate=response.headers.get("WWW-Authenticate"))
    return response, observe.audit(cluster.audit.record_of(response))


def check(cluster, path, expected, observe):
    response, _ = get_anonymously(cluster, path, observe)
    if expected.www_authenticate is False:  # not even an empty one
        assert "WWW-Authenticate" not in response.headers


def test_anonymous_get_root(cluster, expected, observe):
    check(cluster, "/", expected, observe)


def test_anonymous_get_livez(cluster, expected, observe):
    check(cluster, "/livez", expected, observe)


def test_anonymous_get_readyz(cluster, expected, observe):
    check(cluster, "/readyz", expected, observe)


def test_anonymous_get_healthz(cluster, expected, observe):
    check(cluster, "/healthz", expected, observe)
