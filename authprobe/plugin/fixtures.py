"""The fixtures scenarios use: ``cluster``, ``expected`` and ``observe``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from .planning import ANY_STATE_MARKER
from .session import HARNESS, PLAN, STATE

if TYPE_CHECKING:
    from ..harness.audit import AuditRecord
    from ..harness.handle import ClusterHandle
    from ..model.expectations import Expectation
    from ..model.observations import Declarations


@pytest.fixture(scope="session")
def authprobe_cluster(request: pytest.FixtureRequest):
    """The cluster of one (profile, minor) cell, shared by every scenario of the cell.

    The scenarios of several cells run interleaved, so pytest tears this fixture down and
    sets it up again between them; the harness ends the cluster after the cell's last item.
    """
    harness = request.config.stash[HARNESS]
    return harness.pool.get(request.param)


@pytest.fixture
def cluster(request: pytest.FixtureRequest, authprobe_cluster) -> ClusterHandle:
    """The scenario's cluster, a read-only view of its record (see
    authprobe.harness.handle.ClusterHandle)."""
    handle = authprobe_cluster
    request.node.stash[STATE].where = {
        "cluster": handle.name, "node_image": handle.image, "image_source": handle.image_source,
        "kind_version": handle.kind_version, "version": str(handle.version)}
    if not handle.up and request.node.get_closest_marker(ANY_STATE_MARKER) is None:
        pytest.fail(f"the control plane of {handle.name} is down: {handle.start_failure}",
                    pytrace=False)
    return handle


@pytest.fixture
def expected(request: pytest.FixtureRequest) -> Expectation:
    """The expectation row of this scenario, profile and version (a row that predicts
    nothing where none holds: the cell runs and is not judged)."""
    plan = request.node.stash.get(PLAN, None)
    if plan is not None and plan.row is None and plan.unjudged:
        from ..model.expectations import Expectation

        # no row holds: every field reads as not predicted (None); the cell is not judged
        fields = request.config.stash[HARNESS].selection().expectations.fields
        return Expectation(plan.profile, plan.scenario, "", {}, known=frozenset(fields))
    if plan is None or plan.row is None:
        pytest.fail("`expected` is only for scenarios that use the `cluster` fixture",
                    pytrace=False)
    return plan.row


class Observer:
    """``observe(field=value, ...)`` records what the scenario saw (JSON values);
    ``observe.audit(record)`` keeps the apiserver's audit record of a request as evidence."""

    def __init__(self, state, declarations: Declarations) -> None:
        self.state = state
        self.declarations = declarations

    def __call__(self, **fields) -> None:
        for name, value in fields.items():
            self.declarations.check_name(name)  # the diff compares only declared fields
            json.dumps(value)  # a TypeError here names a value the reports could not hold
            self.state.observed[name] = value

    def alternative(self, expected: Expectation) -> Expectation:
        """The row as it reads with the alternative the values observed so far take (the row
        itself when it lists none). When none of its alternatives holds, the cell fails
        with one line naming what was observed and each alternative."""
        if not expected.alternatives:
            return expected
        name = expected.choose(self.state.observed, self.declarations)
        if name is None:
            fields = sorted({f for a in expected.alternatives for f in a.values})
            seen = ", ".join(f"{o.name} {json.dumps(self.state.observed.get(o.name))}"
                             for f in fields for o in self.declarations.predicting(f)
                             if o.name in self.state.observed)
            raise AssertionError(
                f"observed {seen or 'none of their fields'}: none of the row's alternatives "
                f"holds: {'; '.join(a.reads() for a in expected.alternatives)}")
        return expected.taking(name)

    def audit(self, record: AuditRecord) -> AuditRecord:
        self.state.evidence.setdefault("audit", []).append(record.to_dict())
        self(audit_user=record.user, audit_groups=record.groups, audit_code=record.code,
             audit_decision=record.decision)
        return record

    def evidence(self, **fields) -> None:
        for name, value in fields.items():
            json.dumps(value)
            self.state.evidence[name] = value


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Observer:
    state = request.node.stash.get(STATE, None)
    if state is None:
        pytest.fail("`observe` is only for scenarios that use the `cluster` fixture",
                    pytrace=False)
    harness = request.config.stash[HARNESS]
    return Observer(state, harness.selection().expectations.observations)
