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


# The upgrade of a team's profile from 1.33.13 to 1.34.12 on 2026-12-07, in seconds since the
# kubelet's restart: the new kube-apiserver exited on its taken port at 1.6 s (the old one
# ended at 2.7 s); etcd's new container exited on its own taken port at 2.0 s and the etcd that
# runs now started at 26.6 s; the next kube-apiserver, started at 3.0 s, gave up on etcd.
GAVE_UP = ("F1207 05:40:42.487804       1 instance.go:232] Error creating leases: error "
           "creating storage factory: context deadline exceeded")
ETCD_TAKEN = ('{"level":"fatal","msg":"discovery failed","error":"listen tcp 172.18.0.2:2380: '
              'bind: address already in use"}')


def storage_exit(started: float = 3.0, finished: float = 23.1) -> ContainerRun:
    return ContainerRun("c1", 1, started, finished, 255, "Error", GAVE_UP)


def etcd_exit(finished: float = 2.0, line: str = ETCD_TAKEN) -> ContainerRun:
    return ContainerRun("e0", 0, finished, finished, 1, "Error", line)


def swap(*exits: ContainerRun, etcd=None, back: float | None = 26.6) -> Replacement:
    etcd = (etcd_exit(),) if etcd is None else etcd
    return Replacement("uid-a", "uid-b", 2.7, exits, settled_attempt=2, etcd_exits=etcd,
                       etcd_back=back, old_end_from="containerd's journal")


def test_an_exit_without_etcd_while_etcd_waited_out_its_taken_port_is_etcds_swap():
    first, second = exit_at(1.6), storage_exit()
    replaced = swap(first, second)
    assert replaced.unexplained() == []
    assert (replaced.overlap_exits(), replaced.etcd_swap_exits()) == (1, 1)
    assert ("etcd's new container exited on its taken port at 2.0 s, the etcd that runs now "
            "started at 26.6 s") in replaced.why(second)
    assert "etcd" not in replaced.why(first)
    record = replaced.to_dict()
    assert [e["during_etcd_swap"] for e in record["exits"]] == [False, True]
    assert record["etcd_back_at"] == 26.6 and record["etcd_exits"][0]["id"] == "e0"
    assert Replacement.from_dict(record) == replaced


def test_etcds_record_must_tie_the_exit_to_its_outage():
    gave_up = storage_exit()
    # etcd never exited on its port, or ran again well before kube-apiserver gave up
    assert swap(gave_up, etcd=()).unexplained() == [gave_up]
    assert swap(gave_up, etcd=(etcd_exit(line="some other fatal"),)).unexplained() == [gave_up]
    assert swap(gave_up, back=12.0).unexplained() == [gave_up]
    # the etcd that runs is the one from before the restart: no swap to explain it
    assert swap(gave_up, back=None).unexplained() == [gave_up]
    # etcd's exit came after kube-apiserver had already given up
    early = storage_exit(1.0, 2.5)
    assert swap(early, etcd=(etcd_exit(9.0),)).unexplained() == [early]
    # kube-apiserver exited for another reason while etcd was away
    other = ContainerRun("c1", 1, 3.0, 4.0, 1, "Error", "Error: unknown flag: --bogus")
    assert swap(other).unexplained() == [other]
    assert swap(gave_up, etcd=()).etcd_swap_exits() == 0


def test_a_record_written_before_etcd_was_read_has_no_etcd_swap():
    record = Replacement("uid-a", "uid-b", 6.0, (exit_at(4.2),)).to_dict()
    del record["etcd_exits"], record["etcd_back_at"]
    read = Replacement.from_dict(record)
    assert (read.etcd_exits, read.etcd_back, read.overlap_exits()) == ((), None, 1)
