"""A team's own lifecycle step that fails, or that an interrupt meets, on real clusters: the
cluster whose step failed errors its cells with the step's line and ends, the other profile's
cells run on, and nothing of the run is left (no cluster, no kind process). An interrupt
met in the middle of a cluster's end (its cleanups, in the main thread) lets that end finish
and ends the others.

The step comes from the team's conftest.py (``pytest_authprobe_lifecycle_steps``), after
``ready``, on anon-off only, in a run of anon-on and anon-off with a few quick scenarios.
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from authprobe.wait import until

from .conftest import VERSION, created, leftovers, outcomes_of

pytestmark = pytest.mark.e2e

SCENARIOS = ("--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
             "--profile", "anon-on", "--profile", "anon-off", "--observe-window", "60",
             "-k", "control_plane_comes_up or anonymous_get_root")

# The team's conftest.py: its steps, each applying to one profile.
TEAM_STEPS = '''
from pathlib import Path

from authprobe.harness.phases import BRING_UP, Step
from authprobe.progress import say
from authprobe.wait import until

GO_ON = Path(__file__).parent / "go-on"


def typo(env, run):
    return {"kubeconfig": run.provider.kubeconfig}["kube-config"]


def wait_for_go_on(env, run):
    say(f"{run.name}: step wait-for-go-on waits for {GO_ON}")
    until(lambda: GO_ON.exists() or env.aborting(), timeout=900, interval=0.5,
          what=f"{GO_ON} to exist")
    return "went on"


def hold_the_end(env, run):
    def wait():
        say(f"{run.name}: cleanup hold-the-end waits for {GO_ON}")
        until(lambda: GO_ON.exists() or env.aborting(), timeout=900, interval=0.5,
              what=f"{GO_ON} to exist")
    run.on_end("hold the end", wait)
    return "registered"


def pytest_authprobe_lifecycle_steps(config):
    return [Step(name, globals()[name.replace("-", "_")], BRING_UP, after="ready",
                 applies=lambda env, run, profile=profile: run.profile.id == profile)
            for name, profile in STEPS]
'''


def team_steps(folder, **steps: str) -> None:
    """The team's conftest.py in ``folder``, adding each named step (``typo``,
    ``wait_for_go_on``, ``hold_the_end``) on the profile given."""
    chosen = [(name.replace("_", "-"), profile) for name, profile in steps.items()]
    (folder / "conftest.py").write_text(TEAM_STEPS + f"\nSTEPS = {chosen!r}\n")


def test_a_team_step_that_raises_errors_its_cluster_and_the_other_runs_on(tmp_path,
                                                                          run_child):
    team_steps(tmp_path, typo="anon-off")
    started = time.monotonic()
    child = run_child(*SCENARIOS)
    took = time.monotonic() - started
    print(f"run of two profiles with a failing step: exit {child.proc.returncode} "
          f"in {took:.0f}s")
    assert child.proc.returncode == 1, child.tail()
    assert "INTERNALERROR" not in child.output and "Traceback" not in child.output, \
        child.tail()
    outcomes = outcomes_of(tmp_path)
    assert outcomes["run"]["exit_status"] == 1
    names = {c["profile"]: c["name"] for c in outcomes["clusters"]}
    assert set(names) == {"anon-on", "anon-off"}, outcomes["clusters"]
    phases = {(p["cluster"], p["phase"]): p for p in outcomes["phases"]}
    typo = phases[(names["anon-off"], "typo")]
    assert (typo["outcome"], typo["message"]) == ("failed", "KeyError: 'kube-config'")
    assert phases[(names["anon-off"], "teardown")]["message"] == "deleted"
    assert (names["anon-on"], "typo") not in phases
    line = "step 'typo' failed: KeyError: 'kube-config'"
    cells = outcomes["cells"]
    off = [c for c in cells if c["profile"] == "anon-off"]
    on = [c for c in cells if c["profile"] == "anon-on"]
    assert len(off) == len(on) == 2, [(c["profile"], c["scenario"]) for c in cells]
    assert all(c["outcome"] == "error" and line in c["message"] for c in off), off
    assert all(c["outcome"] == "pass" for c in on), on
    assert any(line in problem for problem in outcomes["run"]["problems"])
    left = leftovers(list(names.values()))
    assert not any(left.values()), left


def interrupt_at(child, line: str, what: str, profile: str) -> tuple[str, list[str], int]:
    """Wait for the child run to say ``line`` after the name of its ``profile``'s cluster,
    then Ctrl-C it: that cluster, every cluster the run created, and the exit code."""
    said = until(lambda: next((text for _, text in child.lines if line in text), None),
                 timeout=1500, interval=0.5, what=what)
    assert child.proc.poll() is None, child.tail()
    name = re.search(rf"(authprobe-\S+): {re.escape(line)}", said).group(1)
    signalled = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    code = child.wait(timeout=600)
    assert "INTERNALERROR" not in child.output, child.tail()
    said = [text for _, text in child.lines if "SIGINT received" in text]
    assert len(said) == 1 and "deleting the clusters this run created" in said[0], \
        child.tail()
    names = created(child)
    print(f"SIGINT at {line!r} of {name}: exit {code}, "
          f"{time.monotonic() - signalled:.0f}s after the signal, clusters {names}")
    assert name in names and name.startswith(f"authprobe-{profile}-"), (name, names)
    return name, names, code


def deleted_by_the_interrupt(child) -> str:
    deleted = [text for _, text in child.lines if re.search(r"deleted \d+ cluster", text)]
    assert len(deleted) == 1, child.tail()
    return deleted[0]


def test_an_interrupt_during_a_team_step_leaves_nothing(tmp_path, run_child):
    team_steps(tmp_path, wait_for_go_on="anon-off")
    child = run_child(*SCENARIOS, wait=False)
    waiter, names, code = interrupt_at(child, "step wait-for-go-on waits for",
                                       "the team's step to begin waiting", "anon-off")
    assert code == 2, child.tail()
    assert waiter in deleted_by_the_interrupt(child), child.tail()
    assert f"interrupted: deleting cluster {waiter} ..." in child.output, child.tail()
    left = leftovers(names)
    assert not any(left.values()), left


def test_an_interrupt_in_the_middle_of_a_clusters_end_lets_it_finish_and_ends_the_others(
        tmp_path, run_child):
    """The signal comes while the main thread runs anon-on's cleanups (a team's cleanup, run
    before ``kind delete``) and anon-off is still coming up: anon-off is deleted by the
    interrupt, anon-on's end goes on to delete it, then the run stops."""
    team_steps(tmp_path, wait_for_go_on="anon-off", hold_the_end="anon-on")
    child = run_child(*SCENARIOS, wait=False)
    ending, names, code = interrupt_at(child, "cleanup hold-the-end waits for",
                                       "anon-on's end to be under way", "anon-on")
    other = next(name for name in names if name != ending)
    assert code == 2, child.tail()
    assert deleted_by_the_interrupt(child).endswith(f"deleted 1 cluster(s): {other}"), \
        child.tail()
    assert (f"finishing the end of cluster {ending} first (begun before the signal)"
            in child.output), child.tail()
    assert f"interrupted: deleting cluster {ending} ..." in child.output, child.tail()
    outcomes = outcomes_of(tmp_path)
    phases = {(p["cluster"], p["phase"]): p for p in outcomes["phases"]}
    teardown = phases[(ending, "teardown")]
    assert (teardown["outcome"], teardown["message"]) == ("passed", "deleted"), teardown
    left = leftovers(names)
    assert not any(left.values()), left
