"""A scenario item's cell record, built from what the harness knows about the item: its
cell, its expectation row, the cluster it ran on, what it observed, and how each pytest
phase ended. Nothing here reads test ids or message text to decide an outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ..model import predictions
from ..model.expectations import Expectation, recorded_from, with_alternative
from ..model.observations import Declarations
from ..model.outcome import (
    ERROR,
    EXPECTED_FAILURE,
    FAIL,
    NA,
    NOT_JUDGED,
    PASS,
    SKIPPED,
    CellRecord,
)
from ..model.summary import observed_summary, one_line

DETAIL_LINES = 40


@dataclass
class ItemPlan:
    """What collection decided for one scenario item."""

    profile: str
    minor: str
    version: str
    scenario: str
    row: Expectation | None
    na: str | None  # the expectations say the scenario does not apply: why
    upgraded_from: str | None = None  # the version the cell's cluster was upgraded from
    # no expectation row holds for the profile and version: the cell runs, not judged
    unjudged: bool = False


@dataclass
class ItemState:
    """What the item gathered while it ran."""

    outcome: str | None = None
    message: str = ""
    observed: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)  # cluster, node_image, ... version it ran on
    duration: float = 0.0
    detail: list[str] = field(default_factory=list)
    alternative: str | None = None  # the row's alternative the observed values took


def crash_line(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(longrepr or "").strip().splitlines()[-1] if longrepr else ""


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()
    return "\n".join(lines[-DETAIL_LINES:])


def judge_by_row(plan: ItemPlan, state: ItemState, report: pytest.TestReport,
                 declarations: Declarations) -> str | None:
    """After a scenario's call passed, judge the cell by its row as the declarations say
    (scenarios/observations.yaml): every observation it recorded that the row predicts
    must be what the row predicts, and every row field that predicts observations must have
    been checked by one it recorded. A disagreement fails the call (FAIL), a prediction the
    scenario recorded nothing for errors it (ERROR); the report then holds one line naming
    each field, what was predicted and what was seen. None when the row agrees."""
    if report.when != "call" or not report.passed or plan.row is None:
        return None
    # a row that lists alternatives reads as the one the observed values took
    row = with_alternative(plan.row.values, plan.row.choose(state.observed, declarations))
    seen = predictions.disagreements(declarations, row, state.observed)
    missing = predictions.unrecorded(declarations, row, state.observed)
    if not seen and not missing:
        return None
    report.outcome = "failed"
    report.longrepr = "; ".join(seen + missing)
    return FAIL if seen else ERROR


def apply(plan: ItemPlan, state: ItemState, report: pytest.TestReport,
          assertion: bool, declarations: Declarations | None = None) -> None:
    """Fold one phase's report into the item's state. ``assertion``: the phase failed on an
    assertion (the scenario saw something else) rather than an error; ``declarations``: the
    observed fields, whose wording makes the message of a cell that passed."""
    state.duration += float(report.duration or 0.0)
    if report.when == "setup":
        if report.skipped:
            state.outcome = NA if plan.na else SKIPPED
            state.message = f"n/a: {plan.na}" if plan.na else crash_line(report)
        elif report.failed:
            state.outcome, state.message = ERROR, crash_line(report)
            state.detail.append(f"--- setup ---\n{_tail(report.longreprtext)}")
    elif report.when == "call" and plan.unjudged and (report.passed or (
            report.failed and assertion)):
        state.outcome = NOT_JUDGED
        state.message = unjudged_message(plan, state, declarations,
                                         crash_line(report) if report.failed else None)
        if report.failed:
            state.detail.append(f"--- call ---\n{_tail(report.longreprtext)}")
    elif report.when == "call":
        if plan.row is not None and declarations is not None and plan.row.alternatives:
            state.alternative = plan.row.choose(state.observed, declarations)
        if report.passed:
            expected_failure = plan.row is not None and plan.row.expected_failure
            state.outcome = EXPECTED_FAILURE if expected_failure else PASS
            state.message = observed_summary(state.observed, declarations) or (
                "failed as expected" if expected_failure else "passed")
            if state.alternative:
                state.message += f" (alternative {state.alternative})"
        elif report.skipped:
            state.outcome, state.message = SKIPPED, crash_line(report)
        else:
            state.outcome = FAIL if assertion else ERROR
            state.message = crash_line(report)
            state.detail.append(f"--- call ---\n{_tail(report.longreprtext)}")
        state.message = by_recorded_row(plan, state.outcome, state.message)
    elif report.failed:
        if state.outcome in (PASS, EXPECTED_FAILURE, None):
            state.outcome, state.message = ERROR, "teardown: " + crash_line(report)
        state.detail.append(f"--- teardown ---\n{_tail(report.longreprtext)}")
    for title, content in report.sections:
        if content.strip() and report.when != "setup" and not report.passed:
            state.detail.append(f"--- {title} ---\n{_tail(content)}")


# What a cell's message says of how to give it a row.
RECORD_HINT = "authprobe rows record REPORT records its row"
ACCEPT_HINT = "authprobe rows accept REPORT adds a row for this minor"


def unjudged_message(plan: ItemPlan, state: ItemState, declarations: Declarations | None,
                     own_check: str | None) -> str:
    """The message of a cell no row judges: what it saw, and how to record its row. A
    scenario that compares what it saw with its row itself finds no prediction: its check
    is said, not taken for a failure."""
    seen = observed_summary(state.observed, declarations) or "nothing observed"
    return (f"not judged: no expectation row for {plan.profile} on {plan.version}; saw {seen}"
            + (f"; the scenario's own check, with no row to read: {own_check}"
               if own_check else "") + f" ({RECORD_HINT})")


def by_recorded_row(plan: ItemPlan, outcome: str | None, message: str) -> str:
    """A cell judged by a recorded row says so: a pass names the run the row is from; a
    failure is a change from that baseline the team has not accepted."""
    mark = recorded_from(plan.row.values) if plan.row is not None else None
    if mark is None:
        return message
    source = f"the row recorded from run {mark['run']} on {mark['version']}"
    if outcome == FAIL:
        hint = (f"; {ACCEPT_HINT}" if not plan.version.startswith(f"{plan.row.since}.")
                else "; authprobe rows record --update REPORT records it again")
        return f"not accepted: a change from {source}: {message}{hint}"
    if outcome in (PASS, EXPECTED_FAILURE):
        return f"{message} (judged by {source})"
    return message


def expected_of(plan: ItemPlan) -> dict:
    """The row the cell was judged by; for a profile that does not apply, its n/a."""
    if plan.row is not None:
        return plan.row.to_dict()
    return {"profile": plan.profile, "scenario": plan.scenario, "na": plan.na,
            "from": "profile"} if plan.na else {}


def record(plan: ItemPlan, state: ItemState, nodeid: str) -> CellRecord:
    return CellRecord(
        profile=plan.profile, scenario=plan.scenario, minor=plan.minor,
        **{"version": plan.version, **state.where}, outcome=state.outcome or ERROR,
        message=one_line(state.message or "the test did not run to its end"),
        expected=expected_of(plan), observed=state.observed, evidence=state.evidence,
        nodeid=nodeid, duration=round(state.duration, 3), detail="\n".join(state.detail),
        upgraded_from=plan.upgraded_from, alternative=state.alternative)


def not_run(plan: ItemPlan, nodeid: str, reason: str) -> CellRecord:
    """The record of an item that could not run at all (its image or cluster failed)."""
    return CellRecord(profile=plan.profile, scenario=plan.scenario, minor=plan.minor,
                      version=plan.version, outcome=ERROR, message=one_line(reason),
                      expected=expected_of(plan),
                      nodeid=nodeid, upgraded_from=plan.upgraded_from)
