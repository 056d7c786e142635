"""The lifecycle as data and as one state machine per cluster: running a stage's steps (try,
catch, cleanup), the phases they record, a failure of any kind leading to the END stage, the
cleanups run once and last first by END or by an interrupt, the moves a cluster's record may
make, an upgrade moving the same record on, and placing a team's added steps."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from authprobe import progress
from authprobe.errors import AuthprobeError
from authprobe.harness import interrupts, lifecycle, steps
from authprobe.harness.handle import ClusterHandle
from authprobe.harness.phases import (
    BRING_UP,
    END,
    RELEASE,
    UPGRADE,
    Done,
    Step,
    arrange,
    predicted,
    run_stage,
    skipped,
)
from authprobe.harness.pool import ClusterPool, Unavailable
from authprobe.harness.readiness import StartFailure
from authprobe.harness.state import MOVES, ClusterState, IllegalMove, State
from authprobe.harness.upgrade import upgraded_run
from authprobe.model.cell import Cell
from authprobe.model.outcome import ClusterRecord, RunLog
from authprobe.model.versions import KubeVersion

V134, V135 = KubeVersion.parse("1.34.12"), KubeVersion.parse("1.35.8")


@pytest.fixture
def said(monkeypatch) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(progress, "_sink", lines.append)
    monkeypatch.setattr(progress, "_pump", None)
    return lines


def env(aborting: bool = False, keep: bool = False, reuse: bool = False):
    return SimpleNamespace(runlog=RunLog(), aborting=lambda: aborting, keep=keep, reuse=reuse,
                           kind_version="v0.27.0", logs_root=lambda: Path("/nonexistent"))


class Provider:
    """A kind cluster that exists from its creation to its deletion, and says so."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls, self.alive = name, calls, True
        self.directory = Path("/nonexistent") / name
        self.kubeconfig = self.directory / "kubeconfig"
        self.node_container = f"{name}-control-plane"

    def exists(self) -> bool:
        return self.alive

    def destroy(self, timeout: float = 0) -> None:
        self.calls.append(f"destroy {self.name}")
        self.alive = False


def cluster(name: str = "c1", expected_down: bool = False) -> ClusterState:
    calls: list[str] = []
    image = SimpleNamespace(ref="authprobe/node:v1.34.12", dashboard_image=None)
    run = ClusterState(name=name, profile=SimpleNamespace(id="anon-off"), version=V134,
                       image=image, image_source="build", kind_version="v0.27.0",
                       rendered=None, provider=Provider(name, calls), node=None,
                       expected_down=expected_down)
    run.calls = calls  # what the test's steps and cleanups did, in order
    run.handle = ClusterHandle(run)
    return run


def doing(name, result=None, fails: BaseException | str | None = None):
    def step(env, run):
        run.calls.append(name)
        if isinstance(fails, BaseException):
            raise fails
        if fails:
            raise AuthprobeError(fails)
        return result
    step.__name__ = name
    return step


def phases(e):
    return [(p.phase, p.outcome, p.message) for p in e.runlog.phases]


# -- running the steps of a stage ------------------------------------------------------------

def test_steps_of_a_stage_run_in_order_each_recorded_as_a_phase():
    e, run = env(), cluster()
    stage = [Step("a", doing("a", "first"), BRING_UP), Step("u", doing("u"), UPGRADE),
             Step("b", doing("b", skipped("nothing to do")), BRING_UP)]
    assert run_stage(e, run, BRING_UP, stage) is None
    assert run.calls == ["a", "b"]
    assert phases(e) == [("a", "passed", "first"), ("b", "skipped", "nothing to do")]


def test_a_step_that_does_not_apply_is_not_run_nor_recorded():
    e, run = env(), cluster()
    stage = [Step("a", doing("a"), BRING_UP, applies=lambda env, run: False)]
    assert run_stage(e, run, BRING_UP, stage) is None
    assert run.calls == [] and phases(e) == []


@pytest.mark.parametrize("error, line", [
    (KeyError("kubeconfig"), "KeyError: 'kubeconfig'"),
    (OSError(28, "No space left on device"), "OSError: [Errno 28] No space left on device"),
    (ValueError("first line\nsecond line"), "ValueError: first line"),
    (ZeroDivisionError(), "ZeroDivisionError"),
    (AuthprobeError("kubeadm said no", log_path="/tmp/k.log"),
     "kubeadm said no (full log: /tmp/k.log)"),
])
def test_any_exception_fails_the_phase_with_its_type_and_first_line(error, line):
    e, run = env(), cluster()
    stage = [Step("typo", doing("typo", fails=error), BRING_UP, catch=(doing("evidence"),),
                  cleanup=(doing("cleanup"),)),
             Step("next", doing("next"), BRING_UP)]
    stopped = run_stage(e, run, BRING_UP, stage)
    assert stopped is not None and stopped.failed
    assert (stopped.step, stopped.message) == ("typo", line)
    assert phases(e) == [("typo", "failed", line)]
    assert run.failure == line
    assert run.calls == ["typo", "evidence", "cleanup"], "the stage stops at the failure"


def test_an_exception_of_a_client_library_is_a_failed_phase_too():
    from kubernetes.client.exceptions import ApiException

    e, run = env(), cluster()
    stage = [Step("ready", doing("ready", fails=ApiException(status=503, reason="Unavailable")),
                  BRING_UP)]
    stopped = run_stage(e, run, BRING_UP, stage)
    assert stopped.failed and stopped.message.startswith("ApiException: (503)")


@pytest.mark.parametrize("evidence", [Done("exit code 1", "expected-failure"),
                                      Done("all good"), skipped("nothing")])
def test_a_catch_is_evidence_only_and_cannot_turn_a_failure_into_another_outcome(evidence):
    e, run = env(), cluster()
    stage = [Step("create", doing("create", fails="exited 3 times"), BRING_UP,
                  catch=(doing("evidence", evidence),)),
             Step("verify", doing("verify"), BRING_UP)]
    stopped = run_stage(e, run, BRING_UP, stage)
    assert stopped.failed and stopped.message == "exited 3 times"
    assert run.calls == ["create", "evidence"]
    assert phases(e) == [("create", "failed", "exited 3 times")]


def test_a_predicted_failure_is_said_by_the_step_itself_and_ends_the_stage():
    e, run = env(), cluster()
    stage = [Step("create", doing("create", predicted("exit code 1: unknown flag")), BRING_UP,
                  catch=(doing("evidence"),)),
             Step("verify", doing("verify"), BRING_UP)]
    stopped = run_stage(e, run, BRING_UP, stage)
    assert stopped is not None and not stopped.failed
    assert phases(e) == [("create", "expected-failure", "exit code 1: unknown flag")]
    assert run.calls == ["create"], "no evidence is collected for a step that did not fail"


def test_a_failing_catch_or_cleanup_is_said_not_raised(said):
    e, run = env(), cluster()
    stage = [Step("a", doing("a"), RELEASE, cleanup=(doing("c", fails=OSError("gone")),)),
             Step("b", doing("b", fails="broken"), RELEASE, catch=(doing("e", fails="no"),))]
    stopped = run_stage(e, run, RELEASE, stage)
    assert stopped.failed and stopped.message == "broken"
    assert run.calls == ["a", "c", "b", "e"]
    assert said == ["[authprobe] c1: cleanup (c) failed: OSError: gone",
                    "[authprobe] c1: evidence (e) failed: no"]


def test_no_evidence_is_collected_while_the_run_is_interrupted():
    e, run = env(), cluster()

    def interrupted(env, run):
        run.calls.append("a")
        env.aborting = lambda: True
        raise AuthprobeError("run interrupted")

    stage = [Step("a", interrupted, BRING_UP, catch=(doing("e"),))]
    assert run_stage(e, run, BRING_UP, stage).failed
    assert run.calls == ["a"]


def test_no_step_starts_once_the_run_is_interrupted_but_those_of_the_end():
    e, run = env(aborting=True), cluster()
    stage = [Step("dashboard", doing("dashboard"), BRING_UP), Step("t", doing("t"), END)]
    stopped = run_stage(e, run, BRING_UP, stage)
    assert stopped.failed and stopped.message == "the run is being interrupted"
    assert run_stage(e, run, END, stage) is None
    assert run.calls == ["t"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3)])
def test_an_interrupt_in_a_step_is_recorded_runs_its_cleanup_and_goes_on(interrupt):
    e, run = env(), cluster()
    stage = [Step("wait", doing("wait", fails=interrupt), BRING_UP, catch=(doing("e"),),
                  cleanup=(doing("c"),))]
    with pytest.raises(type(interrupt)):
        run_stage(e, run, BRING_UP, stage)
    assert run.calls == ["wait", "c"]
    assert [(p.phase, p.outcome) for p in e.runlog.phases] == [("wait", "failed")]


# -- the record's moves ------------------------------------------------------------------------

def test_a_cluster_moves_through_its_lifecycle():
    run = cluster()
    for state in (State.BRINGING_UP, State.UP, State.RELEASED, State.UPGRADING, State.UP,
                  State.RELEASED, State.ENDED):
        run.to(state)
        assert run.state is state
    assert run.handle.up is False


@pytest.mark.parametrize("path, refused", [
    ((), State.UP),  # a planned cluster is not up before its bring-up
    ((State.BRINGING_UP, State.DOWN), State.UP),  # a down control plane does not come up
    ((State.BRINGING_UP, State.BROKEN), State.RELEASED),
    ((State.BRINGING_UP, State.UP), State.UPGRADING),  # released first
    ((State.BRINGING_UP, State.UP, State.ENDED), State.UP),  # an ended cluster stays ended
    ((State.ENDED,), State.BRINGING_UP),
])
def test_a_move_the_lifecycle_does_not_have_is_refused(path, refused):
    run = cluster()
    for state in path:
        run.to(state)
    with pytest.raises(IllegalMove, match=f"no move from {run.state.value} to "
                                          f"{refused.value}"):
        run.to(refused)
    assert run.state is (path[-1] if path else State.PLANNED)


def test_every_state_but_ended_has_a_way_to_end_and_ended_has_no_way_out():
    assert set(MOVES) == set(State)
    assert MOVES[State.ENDED] == frozenset()
    run = cluster()
    for state in State:
        run.state = state
        run.to(State.ENDED)
        assert run.state is State.ENDED


def test_a_failure_breaks_a_cluster_with_its_line_but_leaves_a_down_or_ended_one():
    run = cluster()
    run.to(State.BRINGING_UP)
    run.failed("cluster c1: step 'typo' failed: KeyError: 'x'")
    assert run.state is State.BROKEN
    assert run.error == "cluster c1: step 'typo' failed: KeyError: 'x'"
    down = cluster()
    down.to(State.BRINGING_UP)
    down.to(State.DOWN)
    down.failed("the control plane did not come up")
    assert down.state is State.DOWN and down.error is None
    ended = cluster()
    ended.to(State.ENDED)
    ended.failed("run interrupted")
    assert ended.state is State.ENDED and ended.error is None


# -- cleanups: registered as acquired, run last first, once ----------------------------------

def test_cleanups_run_last_first_once(said):
    run = cluster()
    run.on_end("release lease", lambda: run.calls.append("lease") or "lease released")
    run.on_end("delete cluster", lambda: run.calls.append("delete") or "deleted")
    run.on_end("stop sampler", lambda: run.calls.append("sampler"))
    assert run.end() == ["deleted", "lease released"]
    assert run.calls == ["sampler", "delete", "lease"]
    assert run.end() == ["deleted", "lease released"]
    assert run.calls == ["sampler", "delete", "lease"], "each cleanup ran once"
    assert run.state is State.ENDED
    run.on_end("stop server", lambda: run.calls.append("server"))
    assert run.calls[-1] == "server", "what is acquired after the end is undone at once"


class Observed:
    """A record's ending lock that sets ``came`` when a thread other than ``first`` comes
    to it."""

    def __init__(self, lock, first: threading.Thread, came: threading.Event) -> None:
        self.lock, self.first, self.came = lock, first, came

    def __enter__(self):
        if threading.current_thread() is not self.first:
            self.came.set()
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


def test_an_end_met_while_another_thread_ends_the_cluster_waits_for_its_cleanups():
    run = cluster()
    deleting, go_on = threading.Event(), threading.Event()

    def delete():
        run.calls.append("delete")
        deleting.set()
        assert go_on.wait(30)
        return "deleted"

    run.on_end("delete cluster", delete)
    first = threading.Thread(target=run.end)
    first.start()
    assert deleting.wait(30)
    waiting = threading.Event()
    run._ending = Observed(run._ending, first, waiting)
    lines: list[list[str]] = []
    second = threading.Thread(target=lambda: lines.append(run.end()))
    second.start()
    assert waiting.wait(30)
    go_on.set()
    first.join(30)
    second.join(30)
    assert lines == [["deleted"]] and run.calls == ["delete"]


def test_a_failing_cleanup_is_said_and_the_others_still_run(said):
    run = cluster()
    run.on_end("release lease", lambda: run.calls.append("lease"))

    def delete():
        raise OSError("engine gone")

    run.on_end("delete cluster", delete)
    run.on_end("stop sampler", lambda: run.calls.append("sampler"))
    run.end()
    assert run.calls == ["sampler", "lease"]
    assert said == ["[authprobe] c1: cleanup (delete cluster) failed: OSError: engine gone"]


def test_an_interrupt_in_a_cleanup_goes_on_after_the_other_cleanups():
    run = cluster()
    run.on_end("release lease", lambda: run.calls.append("lease"))

    def interrupted():
        raise KeyboardInterrupt

    run.on_end("delete cluster", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.end()
    assert run.calls == ["lease"] and run.state is State.ENDED


def pool(*runs: ClusterState, e=None, lifecycle_steps=None) -> ClusterPool:
    made = ClusterPool(env=e or env(), targets={}, profiles={}, expects_down=None,
                       run_token="t", checkout=".", reuse=False, keep=False, max_alive=3)
    if lifecycle_steps is not None:
        made.steps = lifecycle_steps
    for n, run in enumerate(runs):
        made._runs[Cell(run.profile.id, f"1.{n}")] = run
    return made


def acquired(run: ClusterState) -> ClusterState:
    """A cluster as its bring-up leaves it: lease taken, cluster created, sampler started."""
    run.on_end("release lease", lambda: run.calls.append("release lease"))
    run.on_end("delete cluster", lambda: steps.delete_or_keep(run.env, run))
    run.on_end("stop sampler", lambda: run.calls.append("stop sampler"))
    return run


@pytest.fixture
def quick_teardown(monkeypatch):
    monkeypatch.setattr(steps, "limit", lambda run, name: 1.0)


def test_end_and_interrupt_run_the_same_cleanups_once(said, quick_teardown):
    by_end, by_interrupt = cluster("c1"), cluster("c2")
    e = env()
    by_end.env = by_interrupt.env = e
    acquired(by_end)
    acquired(by_interrupt)
    p = pool(by_end, by_interrupt, e=e,
             lifecycle_steps=[Step("teardown", steps.teardown, END)])
    by_end.to(State.BRINGING_UP)
    by_end.to(State.UP)
    p._end(by_end)
    assert by_end.calls == ["stop sampler", "destroy c1", "release lease"]
    assert phases(e) == [("teardown", "passed", "deleted")]
    e.aborting = p.aborting.is_set
    assert p.abort() == ["c2"]
    assert by_interrupt.calls == ["stop sampler", "destroy c2", "release lease"]
    assert by_end.calls == ["stop sampler", "destroy c1", "release lease"], "ended once"
    assert "[authprobe] interrupted: deleting cluster c2 ..." in said
    p._end(by_interrupt)  # the worker's END stage after the interrupt undoes nothing twice
    assert by_interrupt.calls == ["stop sampler", "destroy c2", "release lease"]
    assert phases(e)[-1] == ("teardown", "skipped", "ended already (the run was interrupted)")


def test_a_kept_cluster_is_not_deleted_and_its_lease_is_released(said, quick_teardown):
    run = cluster()
    run.env = e = env(keep=True)
    acquired(run)
    pool(run, e=e, lifecycle_steps=[Step("teardown", steps.teardown, END)])._end(run)
    assert run.calls == ["stop sampler", "release lease"]
    assert phases(e) == [("teardown", "skipped", "kept (kubeconfig /nonexistent/c1/kubeconfig)")]


def test_an_interrupt_deletes_a_cluster_the_run_would_have_kept(said, quick_teardown):
    run = cluster()
    e = env(keep=True)
    run.env = e
    acquired(run)
    p = pool(run, e=e)
    e.aborting = p.aborting.is_set
    assert p.abort() == ["c1"]
    assert run.calls == ["stop sampler", "destroy c1", "release lease"]


def test_an_interrupt_waits_for_the_cluster_a_worker_is_ending_and_counts_it(
        said, quick_teardown):
    run = cluster()
    run.env = e = env()
    deleting, go_on = threading.Event(), threading.Event()

    def delete():
        deleting.set()
        assert go_on.wait(30)
        return steps.delete_or_keep(run.env, run)

    run.on_end("delete cluster", delete)
    p = pool(run, e=e)
    e.aborting = p.aborting.is_set
    worker = threading.Thread(target=run.end)
    worker.start()
    assert deleting.wait(30)
    assert run.state is State.ENDED and not run.ended, "its cleanups are under way"
    run._ending = Observed(run._ending, worker, go_on)  # the interrupt coming lets it go on
    assert p.abort() == ["c1"]
    worker.join(30)
    assert run.ended and run.calls == ["destroy c1"]
    assert p.ending_here() == []


def test_an_interrupt_in_the_middle_of_a_clusters_end_lets_that_end_finish_first(
        said, quick_teardown):
    """The signal handler runs on top of the main thread's cleanups: it ends the other
    clusters, cannot wait for this one, and its interrupt goes on once this end is done."""
    here, other = cluster("c1"), cluster("c2")
    e = env()
    here.env = other.env = e
    acquired(other)
    p = pool(here, other, e=e, lifecycle_steps=[Step("teardown", steps.teardown, END)])
    e.aborting = p.aborting.is_set
    handled: dict[str, list[str]] = {}

    def handler() -> None:
        handled["deleted"], handled["finishing"] = p.abort(), p.ending_here()
        interrupts.deliver(KeyboardInterrupt())

    def delete():
        here.calls.append("kind delete begins")
        handler()
        here.provider.destroy()
        return steps.DELETED

    here.on_end("delete cluster", delete)
    here.to(State.BRINGING_UP)
    here.to(State.UP)
    with pytest.raises(KeyboardInterrupt):
        p._end(here)
    assert handled == {"deleted": ["c2"], "finishing": ["c1"]}
    assert here.calls == ["kind delete begins", "destroy c1"] and here.ended
    assert phases(e) == [("teardown", "passed", "deleted")]
    assert other.calls == ["stop sampler", "destroy c2", "release lease"]


@pytest.mark.parametrize("made", [False, True], ids=["never made", "kept"])
def test_a_cluster_never_made_leaves_no_private_folder_and_a_kept_one_keeps_it(
        tmp_path, monkeypatch, said, made):
    # A run that ends before `kind create cluster` (an interrupt while its servers run, a
    # step before create that failed) has its private folder made already, with the tokens
    # and the servers' keys in it; nothing else would remove it.
    monkeypatch.setenv("AUTHPROBE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(steps.KindProvider, "exists", lambda self: made)
    e = SimpleNamespace(runlog=RunLog(), kind_path=Path("/nonexistent/kind"),
                        kind_version="v0.33.0")
    image = SimpleNamespace(ref="authprobe/node:v1.34.12", dashboard_image=None)
    run = steps.new_run(e, "authprobe-authz-webhook-134-abc123",
                        SimpleNamespace(id="authz-webhook"), V134, image, "build", None,
                        False, None)
    folder = tmp_path / "clusters" / run.name
    (folder / "servers").mkdir(parents=True)
    (folder / "servers" / "ca.key").write_text("key")
    run.end()
    assert folder.exists() is made


# -- a failing step leads to the END stage; the other clusters run on ------------------------

def test_a_team_step_that_raises_breaks_its_cluster_and_ends_it(said, quick_teardown):
    e = env()
    typo_on = {"c1"}

    def typo(env, run):
        if run.name in typo_on:
            return {}["kubeconfig"]
        return "fine"

    def ready(env, run):
        run.on_end("stop sampler", lambda: run.calls.append("stop sampler"))
        return "ready"

    lifecycle_steps = [Step("ready", ready, BRING_UP), Step("typo", typo, BRING_UP),
                       Step("dashboard", doing("dashboard"), BRING_UP),
                       Step("teardown", steps.teardown, END)]
    broken, fine = cluster("c1"), cluster("c2")
    for run in (broken, fine):
        run.env = e
        run.on_end("release lease", lambda run=run: run.calls.append("release lease"))
        run.on_end("delete cluster", lambda run=run: steps.delete_or_keep(e, run))
    p = pool(broken, fine, e=e, lifecycle_steps=lifecycle_steps)
    for run in (broken, fine):
        run.to(State.BRINGING_UP)
        p._stage(run, BRING_UP)
    assert broken.state is State.ENDED
    assert broken.error == ("cluster c1 (anon-off, Kubernetes 1.34.12): step 'typo' failed: "
                            "KeyError: 'kubeconfig'")
    assert broken.calls == ["stop sampler", "destroy c1", "release lease"]
    assert fine.state is State.UP and fine.calls == ["dashboard"]
    by_cluster = [(p.cluster, p.phase, p.outcome) for p in e.runlog.phases]
    assert by_cluster == [("c1", "ready", "passed"), ("c1", "typo", "failed"),
                          ("c1", "teardown", "passed"), ("c2", "ready", "passed"),
                          ("c2", "typo", "passed"), ("c2", "dashboard", "passed")]
    p._futures = {Cell("anon-off", "1.0"): done(broken), Cell("anon-off", "1.1"): done(fine)}
    with pytest.raises(Unavailable, match="step 'typo' failed: KeyError: 'kubeconfig'"):
        p.get(Cell("anon-off", "1.0"))
    assert p.get(Cell("anon-off", "1.1")) is fine.handle


def test_an_interrupt_in_a_step_ends_the_cluster_then_goes_on(said, quick_teardown):
    e = env()
    run = cluster()
    run.env = e
    acquired(run)
    p = pool(run, e=e, lifecycle_steps=[
        Step("wait", doing("wait", fails=KeyboardInterrupt()), BRING_UP),
        Step("teardown", steps.teardown, END)])
    run.to(State.BRINGING_UP)
    with pytest.raises(KeyboardInterrupt):
        p._stage(run, BRING_UP)
    assert run.state is State.ENDED
    assert run.calls == ["wait", "stop sampler", "destroy c1", "release lease"]


def test_an_end_step_that_fails_still_leaves_nothing(said, quick_teardown):
    e = env()
    run = cluster()
    run.env = e
    acquired(run)
    p = pool(run, e=e, lifecycle_steps=[
        Step("collect", doing("collect", fails=RuntimeError("no disk")), END),
        Step("teardown", steps.teardown, END)])
    p._end(run)
    assert run.calls == ["collect", "stop sampler", "destroy c1", "release lease"]
    assert "[authprobe] c1: step 'collect' of its end failed: RuntimeError: no disk" in said


def done(result=None, error: BaseException | None = None) -> Future:
    future: Future = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
    return future


def test_a_bring_up_that_raised_is_unavailable_with_its_line_not_a_crash():
    p = pool()
    cell = Cell("anon-off", "1.34")
    p._futures = {cell: done(error=KeyError("minor"))}
    with pytest.raises(Unavailable, match="KeyError: 'minor'"):
        p.get(cell)


def one_up_beside(failed_bring_up):
    """A pool of two cells: anon-on's cluster up, anon-off's bring-up ended by
    ``failed_bring_up``."""
    e = env()
    fine = cluster("c2")
    fine.env = e
    acquired(fine)
    fine.to(State.BRINGING_UP)
    fine.to(State.UP)
    p = pool(e=e, lifecycle_steps=[Step("teardown", steps.teardown, END)])
    p._runs = {Cell("anon-on", "1.34"): fine}
    p._futures = {Cell("anon-off", "1.34"): done(error=failed_bring_up),
                  Cell("anon-on", "1.34"): done(fine)}
    return p, fine


def test_finish_releases_every_cluster_whatever_a_bring_up_raised(said, quick_teardown):
    p, fine = one_up_beside(OSError("docker gone"))
    p.finish()
    assert fine.state is State.ENDED
    assert fine.calls == ["stop sampler", "destroy c2", "release lease"]


def test_finish_releases_the_others_before_an_interrupt_goes_on(said, quick_teardown):
    p, fine = one_up_beside(SystemExit(2))
    with pytest.raises(SystemExit):
        p.finish()
    assert fine.state is State.ENDED


# -- the control plane that does not come up: the create step judges it ----------------------

@pytest.fixture
def down_node(monkeypatch):
    """A node whose kube-apiserver exited; what the manifest check says is set per test."""
    checks = {"verify": None}
    monkeypatch.setattr(steps, "start_failure",
                        lambda node, reason: StartFailure(reason=reason, exit_code=1))
    monkeypatch.setattr(steps, "RestartSampler", lambda *a, **k: SimpleNamespace(
        sample_once=lambda: None))
    monkeypatch.setattr(steps, "export_logs", lambda env, run: run.calls.append("export"))
    monkeypatch.setattr(steps, "record_cluster", lambda env, run, **fields: None)

    def verify(env, run):
        if checks["verify"]:
            raise AuthprobeError(checks["verify"])
        return "flags match"

    monkeypatch.setattr(steps, "verify", verify)
    return checks


def create_fails(env, run):
    return steps.control_plane_down(env, run, "kube-apiserver exited 3 times")


def test_a_predicted_start_failure_is_the_create_steps_own_result(down_node):
    e, run = env(), cluster(expected_down=True)
    run.to(State.BRINGING_UP)
    stage = [Step("create", create_fails, BRING_UP, catch=(doing("evidence"),)),
             Step("verify", doing("verify"), BRING_UP)]
    stopped = run_stage(e, run, BRING_UP, stage)
    assert not stopped.failed
    assert phases(e) == [("create", "expected-failure",
                          "kube-apiserver exited 3 times, exit code 1")]
    assert run.state is State.DOWN and run.error is None
    assert run.calls == ["export"], "the evidence is the step's; no catch ran"
    assert run.handle.start_failure.exit_code == 1 and run.handle.up is False


def test_an_unpredicted_start_failure_fails_the_phase_and_the_scenarios_judge_it(down_node):
    e, run = env(), cluster(expected_down=False)
    run.to(State.BRINGING_UP)
    stopped = run_stage(e, run, BRING_UP, [Step("create", create_fails, BRING_UP)])
    assert stopped.failed
    assert stopped.message.startswith("the control plane did not come up")
    run.failed("cluster c1: step 'create' failed")
    assert run.state is State.DOWN and run.error is None, "its cells run and fail"


def test_a_start_failure_on_a_node_not_running_the_profile_errors_the_cells(down_node):
    down_node["verify"] = "--anonymous-auth=false is set, profile leaves it unset"
    e, run = env(), cluster(expected_down=True)
    run.to(State.BRINGING_UP)
    stopped = run_stage(e, run, BRING_UP, [Step("create", create_fails, BRING_UP)])
    assert stopped.failed and "does not run the profile: --anonymous-auth=false" in \
        stopped.message
    run.failed("cluster c1: step 'create' failed")
    assert run.state is State.BROKEN


# -- an upgrade moves the same record on -----------------------------------------------------

def test_an_upgrade_moves_the_same_record_to_the_next_minor():
    e, run = env(), cluster()
    run.dashboard_image = "kubernetesui/dashboard:v2.7.0"
    run.to(State.BRINGING_UP)
    run.to(State.UP)
    run.found.window, run.found.server = 340.0, "https://127.0.0.1:1"
    run.failure = "evidence: no disk"
    run.to(State.RELEASED)
    profile = SimpleNamespace(id="anon-off")
    assert upgraded_run(e, run, V135, profile) is run
    assert run.state is State.UPGRADING
    assert (run.version, run.upgraded_from, run.label) == (V135, V134, "c1@1.35.8")
    assert run.found.window is None and run.found.server is None and run.failure is None
    assert run.found.since is not None
    assert run.handle.dashboard_image == "kubernetesui/dashboard:v2.7.0"
    assert e.runlog.clusters["c1@1.35.8"] == ClusterRecord(
        "c1@1.35.8", "anon-off", "1.35", "1.35.8", "authprobe/node:v1.34.12", "build",
        "v0.27.0", upgraded_from="1.34.12")


def test_the_handle_is_a_read_only_view_of_the_record():
    run = cluster()
    view = run.handle
    with pytest.raises(AttributeError, match="read-only"):
        view.window = 10
    run.found.window, run.found.profile_differences = 120.0, ["probes"]
    assert view.window == 120.0
    view.profile_differences.append("changed")
    assert run.found.profile_differences == ["probes"]
    assert view.image == "authprobe/node:v1.34.12" and view.name == "c1"


# -- the lifecycle as data ------------------------------------------------------------------

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
        "servers", "create", "probe-patch", "verify", "connect", "ready", "jwt", "rbac",
        "dashboard"]
    assert [s.name for s in shipped if s.when == UPGRADE] == [
        "settle", "upgrade", "verify", "connect", "ready", "jwt"]
    assert [s.name for s in shipped if s.when in (RELEASE, END)] == ["evidence", "teardown"]
    upgrade = next(s for s in shipped if s.name == "upgrade")
    assert upgrade.catch, "a failed upgrade exports the node's logs"


def test_an_image_that_fails_with_any_exception_is_one_line_and_frees_its_waiters(monkeypatch):
    """Preparing a minor's node image raises something not the project's own (a KeyError):
    the bring-up that prepared it fails with that line, and a cell waiting for the image
    gets it as Unavailable instead of waiting for ever."""
    from authprobe.harness import images

    def broken(choice, supported):
        raise KeyError("digest")

    monkeypatch.setattr(images, "prepare", broken)
    target = SimpleNamespace(choice=SimpleNamespace(source="build"), supported=None)
    p = ClusterPool(env=env(), targets={"1.34": target}, profiles={}, expects_down=None,
                    run_token="t", checkout=".", reuse=False, keep=False, max_alive=3)
    with pytest.raises(AuthprobeError, match="node image for Kubernetes 1.34: KeyError: "):
        p._prepare_image("1.34")
    with pytest.raises(Unavailable, match="KeyError: 'digest'"):
        p.image("1.34")
