"""Commands run by the harness and an interrupt: a command the interrupt stopped never reads
as one that finished, even when it exits 0 on SIGTERM (as ``docker exec`` of ``kubeadm
upgrade apply`` did); a command that must run on through an interrupt (``kind delete``)
still gives its result."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from authprobe.host import processes
from authprobe.host.processes import Children, StoppedByInterrupt, run_tracked
from authprobe.wait import until

# Exits 0 on SIGTERM, once it has said it is ready for one.
GRACEFUL = ["sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done"]


@pytest.fixture
def children(monkeypatch) -> Children:
    fresh = Children()
    monkeypatch.setattr(processes, "CHILDREN", fresh)
    return fresh


def started(log: Path, interruptible: bool) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = run_tracked(GRACEFUL, timeout=60, log=log,
                                          interruptible=interruptible)
        except BaseException as err:
            result["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    until(lambda: "ready" in (log.read_text() if log.exists() else ""), timeout=10,
          interval=0.05, what="the command to be ready for SIGTERM", quiet=True)
    return thread, result


def test_an_interruptible_command_stopped_by_the_interrupt_raises_though_it_exited_0(
        tmp_path, children):
    thread, result = started(tmp_path / "apply.log", interruptible=True)
    children.stop_all()
    thread.join(timeout=30)
    assert isinstance(result.get("error"), StoppedByInterrupt), result
    assert "the run is being interrupted" in str(result["error"])
    assert "`sh -c" in str(result["error"])


def test_a_command_that_runs_on_through_an_interrupt_gives_its_own_result(tmp_path,
                                                                         children):
    """``kind delete``: the interrupt does not signal it; it finishes, with its exit code."""
    go_on = tmp_path / "go-on"
    log = tmp_path / "delete.log"
    result: dict = {}
    argv = ["sh", "-c", f"echo ready; until [ -e {go_on} ]; do sleep 0.05; done; exit 3"]
    thread = threading.Thread(target=lambda: result.update(
        value=run_tracked(argv, timeout=60, log=log)))
    thread.start()
    until(lambda: "ready" in (log.read_text() if log.exists() else ""), timeout=10,
          interval=0.05, what="the command to start", quiet=True)
    children.stop_all()
    assert thread.is_alive(), "the interrupt stopped a command that must run on"
    go_on.touch()
    thread.join(timeout=30)
    assert result["value"].returncode == 3


def test_a_command_whose_wait_an_exception_ends_is_killed(tmp_path, children):
    """An interrupt raised in the waiting thread leaves no command running."""
    pid_file = tmp_path / "pid"
    argv = ["sh", "-c", f"echo $$ > {pid_file}; while :; do sleep 0.05; done"]

    def interrupt() -> bool:
        if pid_file.exists() and pid_file.read_text().strip():
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        run_tracked(argv, timeout=60, log=tmp_path / "loop.log", should_stop=interrupt,
                    poll=0.05)
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists(), "the command outlived its wait"


def test_an_interruptible_command_started_after_the_interrupt_raises(tmp_path, children):
    children.stop_all()
    with pytest.raises(StoppedByInterrupt):
        run_tracked(["sleep", "30"], timeout=60, log=tmp_path / "late.log", interruptible=True)


def test_a_command_no_interrupt_met_gives_its_exit_code(tmp_path, children):
    assert run_tracked(["sh", "-c", "exit 3"], timeout=10).returncode == 3
