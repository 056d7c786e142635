"""Readings of kube-apiserver's restarts from the node's runtime (crictl), with the API
unreachable: the restart sampler, and the count of exits that ends a never-up creation."""

import json
import subprocess

from authprobe.harness.readiness import RuntimeContainer, exits
from authprobe.harness.sampler import RestartSampler


class RecordingNode:
    """Answers crictl the way a node with one exited and one running apiserver does."""

    container = "authprobe-test-control-plane"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.containers = [
            {"id": "a1", "state": "CONTAINER_EXITED", "createdAt": "1000000000000",
             "metadata": {"attempt": 0}},
            {"id": "b2", "state": "CONTAINER_RUNNING", "createdAt": "1200000000000",
             "metadata": {"attempt": 1}},
        ]

    def exec(self, *argv: str, **_: object) -> subprocess.CompletedProcess:
        self.calls.append(argv)
        if argv[:2] == ("crictl", "ps"):
            out = {"containers": self.containers}
        elif argv[:2] == ("crictl", "inspect"):
            out = {"status": {"reason": "Error", "exitCode": 1}}
        else:
            raise AssertionError(f"unexpected command {argv}")
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
                            "createdAt": "1400000000000", "metadata": {"attempt": 2}})
    sample = sampler.sample_once()
    assert inspects(node) == ["a1", "b2"]
    assert sample.restarts == 2


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
