"""Readings of kube-apiserver's restarts from the node's runtime (crictl), with the API
unreachable: the restart sampler, and the count of exits that ends a never-up creation."""

import json
import subprocess

import pytest

from authprobe.errors import AuthprobeError
from authprobe.harness.readiness import (
    ContainerGone,
    RuntimeContainer,
    container_logs,
    container_status,
    exits,
    start_failure,
)
from authprobe.harness.sampler import RestartSampler


class RecordingNode:
    """Answers crictl the way a node with one exited and one running apiserver does."""

    container = "authprobe-test-control-plane"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.containers = [
            {"id": "a1", "state": "CONTAINER_EXITED", "createdAt": "1000000000000",
             "metadata": {"attempt": 0}, "labels": {"io.kubernetes.pod.uid": "p1"}},
            {"id": "b2", "state": "CONTAINER_RUNNING", "createdAt": "1200000000000",
             "metadata": {"attempt": 1}, "labels": {"io.kubernetes.pod.uid": "p1"}},
        ]

    def exec(self, *argv: str, **_: object) -> subprocess.CompletedProcess:
        self.calls.append(argv)
        if argv[:2] == ("crictl", "ps"):
            return self.answer(argv, {"containers": self.containers})
        if argv[:2] == ("crictl", "inspect"):
            # crictl gives the times in RFC 3339; 1000 s after the epoch is 1970-01-01T00:16:40.
            return self.answer(argv, {"status": {
                "reason": "Error", "exitCode": 1, "startedAt": "1970-01-01T00:16:40.5Z",
                "finishedAt": "1970-01-01T00:20:00.25Z"}})
        if argv[:2] == ("crictl", "logs"):
            return subprocess.CompletedProcess(argv, 0, "", "I1201 first\nE1201 last words\n\n")
        raise AssertionError(f"unexpected command {argv}")

    @staticmethod
    def answer(argv, out: dict) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(argv, 0, json.dumps(out), "")


def inspects(node: RecordingNode) -> list[str]:
    return [argv[2] for argv in node.calls if argv[:2] == ("crictl", "inspect")]


def test_runtime_reading_counts_attempts_and_names_the_exit():
    node = RecordingNode()
    sample = RestartSampler("c", node, api=None, window=60).sample_once()
    assert (sample.restarts, sample.ready, sample.last_reason, sample.source) == (
        1, False, "Error", "runtime")


def test_an_exited_container_is_inspected_once():
    node = RecordingNode()
    sampler = RestartSampler("c", node, api=None, window=60)
    for _ in range(3):
        sampler.sample_once()
    assert inspects(node) == ["a1"]
    node.containers[1]["state"] = "CONTAINER_EXITED"
    node.containers.append({"id": "c3", "state": "CONTAINER_RUNNING",
                            "createdAt": "1400000000000", "metadata": {"attempt": 2},
                            "labels": {"io.kubernetes.pod.uid": "p1"}})
    sample = sampler.sample_once()
    assert inspects(node) == ["a1", "b2"]
    assert sample.restarts == 2


def test_an_exited_container_is_recorded_with_its_times_exit_and_last_line():
    node = RecordingNode()
    sampler = RestartSampler("c", node, api=None, window=60)
    sampler.sample_once()
    (run,) = sampler.containers
    assert (run.id, run.attempt, run.exit_code, run.reason) == ("a1", 0, 1, "Error")
    assert run.last_line == "E1201 last words"
    assert sampler.t0 == 1000.0
    assert (run.started, run.finished) == (0.5, 200.2)


def test_only_the_newest_pods_containers_count():
    # A changed manifest makes a new pod whose containers count their attempts afresh.
    node = RecordingNode()
    node.containers.append({"id": "n1", "state": "CONTAINER_RUNNING",
                            "createdAt": "1300000000000", "metadata": {"attempt": 0},
                            "labels": {"io.kubernetes.pod.uid": "p2"}})
    sampler = RestartSampler("c", node, api=None, window=60)
    sample = sampler.sample_once()
    assert sampler.t0 == 1300.0 and sample.restarts == 0 and sampler.containers == []


def container(attempt: int, state: str) -> RuntimeContainer:
    return RuntimeContainer(id=f"c{attempt}", attempt=attempt, state=state,
                            created_ns=attempt * 10**9)


def test_exits_count_attempts_not_the_containers_left():
    # The kubelet of 1.30 keeps one exited container: attempt 4 exited means five exits.
    assert exits([container(4, "CONTAINER_EXITED"), container(5, "CONTAINER_RUNNING")]) == 5
    assert exits([container(0, "CONTAINER_EXITED"), container(1, "CONTAINER_EXITED"),
                  container(2, "CONTAINER_EXITED")]) == 3
    assert exits([container(0, "CONTAINER_RUNNING")]) == 0
    assert exits([]) == 0


def test_a_window_that_starts_with_a_later_container_counts_from_it():
    node = RecordingNode()
    sampler = RestartSampler("c", node, api=None, window=60, start_with=("p1", 1, 1200.0))
    sample = sampler.sample_once()
    assert sampler.t0 == 1200.0
    assert (sample.restarts, sample.last_reason) == (0, None)
    assert inspects(node) == []  # the exit before the window is not the window's
    node.containers[1]["state"] = "CONTAINER_EXITED"
    node.containers.append(
        {"id": "c3", "state": "CONTAINER_RUNNING", "createdAt": "1300000000000",
         "metadata": {"attempt": 2}, "labels": {"io.kubernetes.pod.uid": "p1"}})
    assert sampler.sample_once().restarts == 1
    assert [(c.id, c.attempt) for c in sampler.containers] == [("b2", 0)]


class RemovingNode(RecordingNode):
    """The kubelet removes the exited container a1 right after crictl listed it, as it does
    with older exited containers while kube-apiserver keeps restarting; crictl then answers
    NotFound, as NodeAccess.exec raises it."""

    def __init__(self) -> None:
        super().__init__()
        self.containers[1]["state"] = "CONTAINER_EXITED"
        self.containers.append({"id": "c3", "state": "CONTAINER_EXITED",
                                "createdAt": "1400000000000", "metadata": {"attempt": 2},
                                "labels": {"io.kubernetes.pod.uid": "p1"}})
        self.removed: set[str] = set()

    def exec(self, *argv: str, **kwargs: object) -> subprocess.CompletedProcess:
        if argv[:2] == ("crictl", "ps") and not self.removed:
            listing = super().exec(*argv, **kwargs)
            self.removed.add("a1")
            self.containers = [c for c in self.containers if c["id"] != "a1"]
            return listing
        if argv[:2] in (("crictl", "inspect"), ("crictl", "logs")) and argv[-1] in self.removed:
            self.calls.append(argv)
            refusal = (f'time="2026-12-07T07:32:15Z" level=fatal msg="rpc error: code = '
                       f'NotFound desc = an error occurred when try to find container '
                       f'\\"{argv[-1]}\\": not found"')
            if argv[1] == "logs":
                return subprocess.CompletedProcess(argv, 1, "", refusal)
            raise AuthprobeError(f"`{' '.join(argv)}` in node {self.container} exited 1: "
                                 f"{refusal}")
        return super().exec(*argv, **kwargs)


def test_a_container_removed_while_a_start_failure_is_read_makes_the_reading_start_again():
    node = RemovingNode()
    found = start_failure(node, "kube-apiserver exited 3 times")
    assert (found.exit_code, found.attempts) == (1, 3), found
    assert [run.id for run in found.containers] == ["b2", "c3"]
    assert found.last_line == "E1201 last words"
    assert "a1" in inspects(node)  # the reading that met the removal was dropped


def test_a_removed_container_is_its_own_error_and_its_log_is_not_the_refusal():
    node = RemovingNode()
    node.exec("crictl", "ps", "-a")
    with pytest.raises(ContainerGone):
        container_status(node, "a1")
    with pytest.raises(ContainerGone):
        container_logs(node, "a1")


class GarbledNode(RecordingNode):
    """crictl answers its inspect with text that is not JSON."""

    def exec(self, *argv: str, **kwargs: object) -> subprocess.CompletedProcess:
        if argv[:2] == ("crictl", "inspect"):
            return subprocess.CompletedProcess(argv, 0, "not json", "")
        return super().exec(*argv, **kwargs)


def test_any_other_failure_of_the_reading_is_not_taken_for_a_removal():
    # it leaves the reading at once, so the step fails with it (its phase, then teardown)
    with pytest.raises(json.JSONDecodeError):
        start_failure(GarbledNode(), "kube-apiserver exited 3 times")
