"""authprobe.wait.until: the one way the harness waits."""

from __future__ import annotations

import time

import pytest

from authprobe import progress, wait
from authprobe.errors import AuthprobeError
from authprobe.wait import WaitTimeout, until

FAST = {"interval": 0.01, "quiet": True}


def answers(*values):
    """A condition returning ``values`` one per call (raising the exceptions among them)."""
    calls = []

    def condition():
        value = values[min(len(calls), len(values) - 1)]
        calls.append(value)
        if isinstance(value, BaseException):
            raise value
        return value

    condition.calls = calls
    return condition


@pytest.fixture
def lines():
    said, pumped = [], []
    progress.set_sink(said.append, lambda: pumped.append(1))
    yield said, pumped
    progress.set_sink(None)


def test_returns_the_first_truthy_value():
    condition = answers(0, "", None, [], "up", "later")
    assert until(condition, timeout=5, what="x", **FAST) == "up"
    assert len(condition.calls) == 5


def test_a_value_at_once_does_not_sleep():
    start = time.monotonic()
    assert until(answers({"ready": True}), timeout=5, what="x", interval=5, quiet=True) == {
        "ready": True}
    assert time.monotonic() - start < 1


def test_retry_on_exceptions_count_as_not_yet():
    condition = answers(ConnectionError("refused"), OSError("reset"), 42)
    assert until(condition, timeout=5, what="x", retry_on=(OSError,), **FAST) == 42
    assert len(condition.calls) == 3


def test_other_exceptions_end_the_wait_at_once():
    condition = answers(0, KeyError("boom"), 42)
    with pytest.raises(KeyError, match="boom"):
        until(condition, timeout=5, what="x", retry_on=(OSError,), **FAST)
    assert len(condition.calls) == 2
    with pytest.raises(ConnectionError):
        until(answers(ConnectionError("no")), timeout=5, what="x", **FAST)


def test_timeout_names_what_and_the_state():
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as err:
        until(answers(False), timeout=0.2, what="kube-apiserver Ready",
              state=lambda: "3 restarts, not ready", **FAST)
    assert time.monotonic() - start < 2
    line = err.value.one_line()
    assert line.startswith("kube-apiserver Ready: not reached after 0s")
    assert "(3 restarts, not ready)" in line
    assert isinstance(err.value, AuthprobeError)


def test_timeout_after_errors_names_the_last_error():
    with pytest.raises(WaitTimeout) as err:
        until(answers(ConnectionError("connection refused\nmore lines")), timeout=0.1,
              what="the API", retry_on=(ConnectionError,), **FAST)
    line = err.value.one_line()
    assert "the API: not reached after" in line
    assert "ConnectionError: connection refused" in line and "more lines" not in line


def test_timeout_without_state_says_only_what():
    with pytest.raises(WaitTimeout) as err:
        until(answers(0), timeout=0.05, what="nothing", **FAST)
    assert str(err.value) == "nothing: not reached after 0s"


def test_give_last_returns_the_last_value():
    assert until(answers(0, [], ""), timeout=0.1, what="x", give_last=True, **FAST) == ""
    assert until(answers(False), timeout=0.05, what="x", give_last=True, **FAST) is False


def test_give_last_with_only_errors_still_raises():
    with pytest.raises(WaitTimeout):
        until(answers(OSError("x")), timeout=0.05, what="x", retry_on=(OSError,),
              give_last=True, **FAST)


def test_heartbeat_lines_say_what_and_state(lines, monkeypatch):
    said, pumped = lines
    monkeypatch.setattr(wait, "HEARTBEAT", 0.0)
    until(answers(0, 0, 1), timeout=5, what="the node", interval=0.01,
          state=lambda: "2 of 3 pods")
    assert said and all(line.startswith("[authprobe] waiting for the node: ") for line in said)
    assert all(line.endswith("(2 of 3 pods)") and "of at most 5s" in line for line in said)
    assert pumped  # queued progress lines are let through while waiting


def test_the_heartbeat_counts_from_the_last_line_said_anywhere(lines, monkeypatch):
    """Short waits one after another still say a line once the run has been quiet for a
    heartbeat, and a wait right after another line says nothing."""
    said, _ = lines
    monkeypatch.setattr(progress, "_last_said", time.monotonic() - wait.HEARTBEAT - 1)
    until(answers(1), timeout=5, what="the first", interval=0.01)
    assert len(said) == 1 and said[0].startswith("[authprobe] waiting for the first: 0s")
    until(answers(0, 1), timeout=5, what="the second", interval=0.01)
    assert len(said) == 1
    assert progress.quiet_for() < 1.0


def test_quiet_says_nothing(lines, monkeypatch):
    said, _ = lines
    monkeypatch.setattr(wait, "HEARTBEAT", 0.0)
    until(answers(0, 1), timeout=5, what="x", interval=0.01, quiet=True)
    assert said == []


def test_an_error_caught_while_waiting_reads_as_its_type_and_first_line():
    from authprobe.errors import error_line

    assert error_line(ValueError("first line\nsecond"), 5) == "ValueError: first"
    assert error_line(TimeoutError()) == "TimeoutError: "
