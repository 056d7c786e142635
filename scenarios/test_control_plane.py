"""Does the control plane come up? On current Kubernetes the 2017 fix (probe on the
insecure port 8080) must not: kube-apiserver exits on the removed flags."""

import pytest


@pytest.mark.control_plane_any
def test_control_plane_comes_up(cluster, expected, observe):
    observe(up=cluster.up)
    if expected.comes_up:
        assert cluster.up, f"the control plane did not come up: {cluster.start_failure}"
        return
    assert not cluster.up, "the control plane came up, but with this profile it must not"
    failure = cluster.start_failure
    observe(exit_code=failure.exit_code, log_tail=failure.log_tail[-5:])
    observe.evidence(start_failure=failure.reason)
    assert any(expected.log_message in line for line in failure.log_tail), (
        f"no log line of kube-apiserver names {expected.log_message!r}")
