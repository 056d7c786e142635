"""How a lifecycle step runs: the shape of a step, and running the steps of one stage.

A step is data (:class:`Step`): a name (the phase in the report), the function that does
it, the stage it runs in and whether it applies to a cluster, what collects evidence when it
fails (``catch``) and what runs after it either way (``cleanup``), in the manner of
chainsaw's try/catch/finally. Every function of a step has one signature, ``fn(env, run)``:
``env`` what the run's clusters share, ``run`` the one cluster's record (see :mod:`.state`).
A step function returns its phase message (or a :class:`Done` with another outcome); any
exception it raises fails its phase with the exception's type and first line. A catch
collects evidence only: what it returns or raises never changes the phase. A failure the
expectations predict is said by the step itself (a Done whose outcome is expected-failure).
Anything a step acquires that must be undone when the cluster ends is registered on the
record (``run.on_end(name, fn)``). The lifecycle itself, the list of steps, is
:mod:`.lifecycle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthprobeError, error_line
from ..model.outcome import (
    PHASE_EXPECTED_FAILURE,
    PHASE_FAILED,
    PHASE_PASSED,
    PHASE_SKIPPED,
    PhaseRecord,
)
from ..model.timeouts import step_timeouts
from ..progress import say

# When a step runs:
BRING_UP = "bring-up"  # from nothing to a cluster the scenarios can use
UPGRADE = "upgrade"  # after the first minor's scenarios, before the second minor's (--upgrade-to)
RELEASE = "release"  # the scenarios are done with the cluster, which still runs
END = "end"  # the cluster goes (or is kept)
STAGES = (BRING_UP, UPGRADE, RELEASE, END)

StepFunction = Callable[[Any, Any], "str | Done | None"]


@dataclass(frozen=True)
class Done:
    """What a step says about its phase besides "passed"."""

    message: str = ""
    outcome: str = PHASE_PASSED


def skipped(why: str) -> Done:
    return Done(why, PHASE_SKIPPED)


def predicted(why: str) -> Done:
    """The step failed as the expectations predict: its phase says so and its stage ends."""
    return Done(why, PHASE_EXPECTED_FAILURE)


def always(env, run) -> bool:
    return True


def failure_line(err: BaseException) -> str:
    """A failure as one line: the project's own errors as they say it, any other exception
    with its type and the first line of its message."""
    if isinstance(err, AuthprobeError):
        return err.one_line()
    return error_line(err, 300).removesuffix(": ")


@dataclass(frozen=True)
class Step:
    """One step of a cluster's lifecycle.

    ``run`` does it; ``when`` is its stage (BRING_UP, UPGRADE, RELEASE, END) and ``applies``
    says whether it runs for this cluster; ``after`` places it after the step of that name in
    its stage (default: the stage's end). When ``run`` raises, its phase fails with the
    error's line and each ``catch`` function collects evidence (its result is not looked
    at: evidence never changes the verdict); each ``cleanup`` function runs after the step
    whether it failed or not. ``timeouts`` names the step's own
    timeouts with their defaults in seconds; ``steps.limit(run, name)`` reads them, and a
    run overrides them like the shipped ones (:mod:`authprobe.model.timeouts`).
    """

    name: str
    run: StepFunction
    when: str
    applies: Callable[[Any, Any], bool] = always
    catch: tuple[StepFunction, ...] = ()
    cleanup: tuple[StepFunction, ...] = ()
    after: str | None = None
    timeouts: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.when not in STAGES:
            raise AuthprobeError(f"lifecycle step '{self.name}': stage '{self.when}' is "
                                 f"unknown; use one of {', '.join(STAGES)}")
        object.__setattr__(self, "timeouts", step_timeouts(self.name, self.timeouts))


@dataclass(frozen=True)
class Stopped:
    """Where a stage stopped before its end: the step, and its phase's outcome and line
    (failed, or expected-failure when the step said the predicted failure)."""

    step: str
    outcome: str
    message: str

    @property
    def failed(self) -> bool:
        return self.outcome == PHASE_FAILED


@contextmanager
def phase(env, run, name: str) -> Iterator[dict]:
    """Time one step and record it as a phase of the cluster's record; the block sets
    ``outcome``/``message`` in the dict. An exception leaving the block (an interrupt among
    them) fails the phase with its line and goes on."""
    record = {"outcome": PHASE_PASSED, "message": ""}
    start = time.monotonic()
    try:
        yield record
    except BaseException as err:
        record.update(outcome=PHASE_FAILED, message=failure_line(err))
        raise
    finally:
        env.runlog.add_phase(PhaseRecord(
            cluster=run.label, profile=run.profile.id, version=str(run.version), phase=name,
            seconds=round(time.monotonic() - start, 1), outcome=record["outcome"],
            message=record["message"], logs_dir=str(run.logs_dir) if run.logs_dir else None))


def _apply(record: dict, result: str | Done | None) -> None:
    if isinstance(result, Done):
        record.update(outcome=result.outcome, message=result.message)
    elif result:
        record["message"] = str(result)


def _guarded(functions: tuple[StepFunction, ...], env, run, what: str) -> None:
    """Run evidence or cleanup functions; their own failures are said, never raised (an
    interrupt still goes on)."""
    for function in functions:
        try:
            function(env, run)
        except Exception as err:
            say(f"{run.name}: {what} ({getattr(function, '__name__', function)}) failed: "
                f"{failure_line(err)}")


def run_stage(env, run, stage: str, steps: list[Step]) -> Stopped | None:
    """Run the steps of ``stage`` that apply to ``run``, in order, until one fails or says
    the predicted failure.

    None when every step ran; else where the stage stopped. A step that raises fails its
    phase with the error's line (also in ``run.failure``), then its catch functions collect
    evidence (not while the run is being interrupted); its cleanup functions run either
    way. An interrupt (KeyboardInterrupt, SystemExit) is recorded and goes on after them.
    Once the run is being interrupted no further step starts, but those of the END stage.
    """
    for step in steps:
        if step.when != stage or not step.applies(env, run):
            continue
        if stage != END and env.aborting():
            return Stopped(step.name, PHASE_FAILED, "the run is being interrupted")
        try:
            with phase(env, run, step.name) as record:
                try:
                    _apply(record, step.run(env, run))
                except Exception as err:
                    record.update(outcome=PHASE_FAILED, message=failure_line(err))
                    run.failure = record["message"]
                    if not env.aborting():
                        _guarded(step.catch, env, run, "evidence")
        finally:
            _guarded(step.cleanup, env, run, "cleanup")
        if record["outcome"] in (PHASE_FAILED, PHASE_EXPECTED_FAILURE):
            return Stopped(step.name, record["outcome"], record["message"])
    return None


def arrange(defaults: list[Step], added: list[Step]) -> list[Step]:
    """The lifecycle: ``defaults`` with each added step placed after the step its ``after``
    names (in its stage), or at its stage's end; one line on a step that cannot be placed."""
    steps = list(defaults)
    for step in added:
        if not isinstance(step, Step):
            raise AuthprobeError(f"pytest_authprobe_lifecycle_steps returned {step!r}, not a Step "
                                 "(authprobe.harness.phases.Step)")
        same_stage = [i for i, s in enumerate(steps) if s.when == step.when]
        if any(steps[i].name == step.name for i in same_stage):
            raise AuthprobeError(f"lifecycle step '{step.name}' is already in stage "
                                 f"'{step.when}': give the added step a name of its own")
        if step.after is None:
            where = (same_stage[-1] + 1 if same_stage else
                     len([s for s in steps if STAGES.index(s.when) <= STAGES.index(step.when)]))
        else:
            named = [i for i in same_stage if steps[i].name == step.after]
            if not named:
                names = ", ".join(steps[i].name for i in same_stage) or "none"
                raise AuthprobeError(f"lifecycle step '{step.name}' comes after "
                                     f"'{step.after}', which stage '{step.when}' does not have "
                                     f"(its steps: {names})")
            where = named[0] + 1
        steps.insert(where, step)
    return steps
