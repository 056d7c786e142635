"""A browser with no credentials: the request runs as system:anonymous (or is refused
outright when anonymous auth is off), and only the health endpoints may answer it."""

from authprobe.kubehttp import answered, status_message


def get_anonymously(cluster, path, observe):
    response = answered(lambda: cluster.anonymous.get(path))
    observe(
        path=path,
        status=response.status_code,
        message=status_message(response),
        www_authenticate=response.headers.get("WWW-Authenticate"),
    )
    return response


def check(response, expected):
    assert response.status_code == expected.status
    assert expected.message in status_message(response)
    if expected.www_authenticate is False:
        assert "WWW-Authenticate" not in response.headers


def test_anonymous_get_root(cluster, expected, observe):
    check(get_anonymously(cluster, "/", observe), expected)


def test_anonymous_get_livez(cluster, expected, observe):
    check(get_anonymously(cluster, "/livez", observe), expected)


def test_anonymous_get_readyz(cluster, expected, observe):
    check(get_anonymously(cluster, "/readyz", observe), expected)


def test_anonymous_get_healthz(cluster, expected, observe):
    check(get_anonymously(cluster, "/healthz", observe), expected)
