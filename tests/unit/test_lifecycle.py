"""The lifecycle as data: running a stage's steps (try, catch, cleanup), the phases they
record, and placing a team's added steps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from authprobe import progress
from authprobe.errors import AuthprobeError
from authprobe.harness import lifecycle
from authprobe.harness.phases import (
    BRING_UP,
    END,
    RELEASE,
    UPGRADE,
    Done,
    Step,
    arrange,
    run_stage,
    skipped,
)
from authprobe.model.outcome import RunLog


def env(aborting: bool = False):
    return SimpleNamespace(runlog=RunLog(), aborting=lambda: aborting)


def cluster():
    return SimpleNamespace(label="c1", name="c1", profile=SimpleNamespace(id="anon-on"),
                           version="1.34.12", logs_dir=None, failure=None, calls=[])


def doing(name, result=None, fails=None):
    def step(env, run):
        run.calls.append(name)
        if fails:
            raise AuthprobeError(fails)
        return result
    step.__name__ = name
    return step


def phases(e):
    return [(p.phase, p.outcome, p.message) for p in e.runlog.phases]


def test_steps_of_a_stage_run_in_order_each_recorded_as_a_phase():
    e, run = env(), cluster()
    steps = [Step("a", doing("a", "first"), BRING_UP), Step("u", doing("u"), UPGRADE),
             Step("b", doing("b", skipped("nothing to do")), BRING_UP)]
    assert run_stage(e, run, BRING_UP, steps) is True
    assert run.calls == ["a", "b"]
    assert phases(e) == [("a", "passed", "first"), ("b", "skipped", "nothing to do")]


def test_a_step_that_does_not_apply_is_not_run_nor_recorded():
    e, run = env(), cluster()
    steps = [Step("a", doing("a"), BRING_UP, applies=lambda env, run: False)]
    assert run_stage(e, run, BRING_UP, steps) is True
    assert run.calls == [] and phases(e) == []


def test_a_failure_runs_catch_and_cleanup_then_raises_and_stops_the_stage():
    e, run = env(), cluster()
    steps = [Step("a", doing("a", fails="kubeadm said no"), UPGRADE,
                  catch=(doing("evidence"),), cleanup=(doing("cleanup"),)),
             Step("b", doing("b"), UPGRADE)]
    with pytest.raises(AuthprobeError, match="kubeadm said no"):
        run_stage(e, run, UPGRADE, steps)
    assert run.calls == ["a", "evidence", "cleanup"]
    assert run.failure == "kubeadm said no"
    assert phases(e) == [("a", "failed", "kubeadm said no")]


def test_a_catch_that_finds_the_predicted_failure_ends_the_stage_without_error():
    e, run = env(), cluster()
    predicted = doing("evidence", Done("exit code 1", "expected-failure"))
    steps = [Step("create", doing("create", fails="exited 3 times"), BRING_UP,
                  catch=(predicted,)),
             Step("verify", doing("verify"), BRING_UP)]
    assert run_stage(e, run, BRING_UP, steps) is False
    assert run.calls == ["create", "evidence"]
    assert phases(e) == [("create", "expected-failure", "exit code 1")]


def test_a_failing_catch_or_cleanup_is_said_not_raised(monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(progress, "_sink", said.append)
    monkeypatch.setattr(progress, "_pump", None)
    e, run = env(), cluster()
    steps = [Step("a", doing("a"), RELEASE, cleanup=(doing("c", fails="gone"),)),
             Step("b", doing("b", fails="broken"), RELEASE, catch=(doing("e", fails="no"),))]
    with pytest.raises(AuthprobeError, match="broken"):
        run_stage(e, run, RELEASE, steps)
    assert run.calls == ["a", "c", "b", "e"]
    assert said == ["[authprobe] c1: cleanup (c) failed: gone",
                    "[authprobe] c1: evidence (e) failed: no"]


def test_no_evidence_is_collected_while_the_run_is_interrupted():
    e, run = env(aborting=True), cluster()
    steps = [Step("a", doing("a", fails="run interrupted"), BRING_UP, catch=(doing("e"),))]
    with pytest.raises(AuthprobeError):
        run_stage(e, run, BRING_UP, steps)
    assert run.calls == ["a"]


def test_an_unknown_stage_is_one_line():
    with pytest.raises(AuthprobeError, match="stage 'later' is unknown"):
        Step("x", doing("x"), "later")


def test_added_steps_go_after_the_named_step_or_at_the_end_of_their_stage():
    defaults = [Step("create", doing("c"), BRING_UP), Step("ready", doing("r"), BRING_UP),
                Step("upgrade", doing("u"), UPGRADE), Step("teardown", doing("t"), END)]
    added = [Step("kernel", doing("k"), BRING_UP, after="create"),
             Step("last", doing("l"), BRING_UP), Step("keep-logs", doing("g"), RELEASE)]
    names = [(s.when, s.name) for s in arrange(defaults, added)]
    assert names == [(BRING_UP, "create"), (BRING_UP, "kernel"), (BRING_UP, "ready"),
                     (BRING_UP, "last"), (UPGRADE, "upgrade"), (RELEASE, "keep-logs"),
                     (END, "teardown")]


def test_an_added_step_that_cannot_be_placed_is_one_line():
    defaults = [Step("create", doing("c"), BRING_UP)]
    with pytest.raises(AuthprobeError, match="comes after 'ready', which stage 'bring-up' "
                                             r"does not have \(its steps: create\)"):
        arrange(defaults, [Step("k", doing("k"), BRING_UP, after="ready")])
    with pytest.raises(AuthprobeError, match="already in stage 'bring-up'"):
        arrange(defaults, [Step("create", doing("k"), BRING_UP)])
    with pytest.raises(AuthprobeError, match="not a Step"):
        arrange(defaults, ["create"])


def test_the_shipped_lifecycle_has_the_upgrade_as_one_step_of_its_stage():
    shipped = lifecycle.lifecycle()
    assert [s.name for s in shipped if s.when == BRING_UP] == [
        "create", "probe-patch", "verify", "connect", "ready", "dashboard"]
    assert [s.name for s in shipped if s.when == UPGRADE] == [
        "settle", "upgrade", "verify", "connect", "ready"]
    assert [s.name for s in shipped if s.when in (RELEASE, END)] == ["evidence", "teardown"]
    upgrade = next(s for s in shipped if s.name == "upgrade")
    assert upgrade.catch, "a failed upgrade exports the node's logs"
