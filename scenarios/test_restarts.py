"""kube-apiserver restarts over an observation window. With anonymous auth off, the
kubelet's unauthenticated probes get 401 and the kubelet restarts the apiserver over and
over; with anonymous access limited to the health endpoints it stays up."""

from authprobe.series import ever_ready, first_restart_at, shape, summary


def test_apiserver_restarts(cluster, expected, observe):
    series = cluster.restarts.wait_for_window()
    observe(
        restart_shape=shape(series),
        first_restart_at=first_restart_at(series),
        ever_ready=ever_ready(series),
        restart_summary=summary(series),
    )
    assert shape(series) == expected.restart_shape, summary(series)
    if expected.first_restart_by is not None:
        assert first_restart_at(series) <= expected.first_restart_by, summary(series)
    if expected.ever_ready is not None:
        assert ever_ready(series) == expected.ever_ready, summary(series)
