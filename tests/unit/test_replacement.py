"""kube-apiserver replaced by the kubelet's restart on a new minor: an exit of the new one is
the replacement's only when the runtime's record ties it to the overlap with the old one (it
ended before the old one did, on a taken port); any other exit is left unexplained."""

from __future__ import annotations

from authprobe.model.replacement import Replacement
from authprobe.model.restarts import ContainerRun

TAKEN = ("Error: failed to create listener: failed to listen on 0.0.0.0:6443: listen tcp "
         "0.0.0.0:6443: bind: address already in use")


def exit_at(finished: float, line: str = TAKEN, attempt: int = 0) -> ContainerRun:
    return ContainerRun(f"c{attempt}", attempt, finished - 0.3, finished, 1, "Error", line)


def test_a_kept_pod_is_not_replaced_and_has_no_exit():
    kept = Replacement("uid-a", "uid-a", None, ())
    assert not kept.replaced and kept.unexplained() == []


def test_an_exit_on_the_taken_port_before_the_old_one_ended_is_the_replacements():
    replaced = Replacement("uid-a", "uid-b", 6.0, (exit_at(4.2),), settled_attempt=1)
    assert replaced.replaced
    assert replaced.unexplained() == []
    record = replaced.to_dict()
    assert record["exits"][0]["during_overlap"] is True and record["settled_attempt"] == 1
    assert Replacement.from_dict(record) == replaced


def test_an_exit_after_the_old_one_ended_is_not_explained():
    late = exit_at(20.0)
    replaced = Replacement("uid-a", "uid-b", 6.0, (late,))
    assert replaced.unexplained() == [late]
    assert "the old one ended at 6.0 s" in replaced.why(late)


def test_an_exit_for_another_reason_during_the_overlap_is_not_explained():
    other = exit_at(4.0, line="Error: error reading public key file /etc/kubernetes/pki/sa.pub")
    assert Replacement("uid-a", "uid-b", 6.0, (other,)).unexplained() == [other]


def test_without_the_old_ones_end_no_exit_is_explained():
    run = exit_at(4.0)
    replaced = Replacement("uid-a", "uid-b", None, (run,))
    assert replaced.unexplained() == [run]
    assert "the old one's end is not recorded" in replaced.why(run)
    unread = Replacement("uid-a", "uid-b", None, (run,), reading_errors=("WaitTimeout: x (2x)",))
    assert "not recorded (failed readings: WaitTimeout: x (2x))" in unread.why(run)
    journal = Replacement("uid-a", "uid-b", 6.0, (run,), old_end_from="containerd's journal")
    assert "the old one ended at 6.0 s, by containerd's journal" in journal.why(run)


def test_an_exit_of_a_pod_the_restart_kept_is_not_explained():
    run = exit_at(4.0)
    assert Replacement("uid-a", "uid-a", 6.0, (run,)).unexplained() == [run]


# containerd's journal in a node on 2026-12-06 (kubelet of 1.35.8 just restarted): the old
# kube-apiserver's exit, which the kubelet removed 0.9 s later.
CONTAINERD = (
    'Dec 06 14:04:25 n containerd[195]: time="2026-12-06T14:04:25.398310866Z" level=info '
    'msg="StopContainer for \\"371ac2479bda\\" with timeout 2 (s)"\n'
    'Dec 06 14:04:25 n containerd[195]: time="2026-12-06T14:04:25.593690524Z" level=info '
    'msg="received container exit event container_id:\\"371ac2479bda\\"  id:\\"371ac2479bda\\"'
    '  pid:3253  exit_status:137  exited_at:{seconds:1796565865  nanos:593310873}"\n')


def test_the_old_ones_end_is_read_from_containerds_exit_event():
    from authprobe.model.replacement import exited_at

    assert exited_at(CONTAINERD, "371ac2479bda") == 1796565865.593310873
    assert exited_at(CONTAINERD, "3684bab0ff3f") is None
    taskexit = ('msg="TaskExit event container_id:\\"abc\\" id:\\"abc\\" pid:1 exit_status:0 '
                'exited_at:{seconds:10 nanos:500000000}"')
    assert exited_at(taskexit, "abc") == 10.5
