"""Two edits of default ClusterRoles across an upgrade in place, to show what kube-apiserver's
reconciliation of its default roles does: at every start it gives each default role the
permissions the new minor's policy has and the role lacks, unless the role is annotated
``rbac.authorization.kubernetes.io/autoupdate: "false"``; it never takes a permission away.

Before the upgrade (a step of the UPGRADE stage, after ``settle``) one permission is taken
out of each of two roles, and one of them is annotated autoupdate "false", as a team marks a
role it changed. After it (after ``ready``) the step reads both roles as the upgraded
kube-apiserver left them, and kube-apiserver's own log of its start ("skipped
reconcile-protected clusterrole ... with missing permissions"), records that in the upgrade's
record (``cluster.upgrade["role_edits"]``), and puts both roles back as a fresh cluster has
them, so the other scenarios of the upgraded cluster see the roles the upgrade itself left.

The permissions taken out are ones no scenario and no component of a kind cluster uses:
SelfSubjectRulesReview (``kubectl auth can-i --list``) and GET of ``/version/`` with its
trailing slash. The scenarios add these steps through the hook
``pytest_authprobe_lifecycle_steps`` (scenarios/conftest.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..errors import AuthprobeError
from ..model import rbacrules
from ..model.timeouts import calls, waits
from ..wait import until
from .phases import UPGRADE, Step
from .readiness import container_logs
from .state import ClusterState

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
# kube-apiserver's warning for a default role it did not reconcile (storage_rbac.go)
PROTECTED = re.compile(r"skipped reconcile-protected clusterrole\.rbac\.authorization\.k8s\.io/"
                       r"(?P<role>\S+) with missing permissions")
LOG_LINES = 20000  # of kube-apiserver's log: its start after the upgrade, and more


@dataclass(frozen=True)
class RoleEdit:
    """A permission taken out of a default role before the upgrade, and whether the role is
    marked autoupdate "false" with it."""

    role: str
    rule: dict  # what is taken out, as a PolicyRule
    autoupdate: bool

    @property
    def lines(self) -> list[str]:
        """What is taken out, as lines of the role (authprobe.model.rbacrules)."""
        return rbacrules.role_lines(self.role, [self.rule])


EDITS = (
    RoleEdit("system:basic-user", {"apiGroups": ["authorization.k8s.io"],
                                   "resources": ["selfsubjectrulesreviews"],
                                   "verbs": ["create"]}, autoupdate=False),
    RoleEdit("system:public-info-viewer", {"nonResourceURLs": ["/version/"], "verbs": ["get"]},
             autoupdate=True),
)


def _read(run: ClusterState, role: str) -> dict:
    result = run.handle.node.kubectl("get", "clusterrole", role, "-o", "json",
                                     timeout=calls().node_read)
    return json.loads(result.stdout)


def _replace(run: ClusterState, role: dict) -> None:
    run.handle.node.kubectl("replace", "-f", "-", input=json.dumps(role),
                            timeout=calls().node_read)


def _grants_all(role: dict, rule: dict) -> bool:
    held = rbacrules.grants(role.get("rules") or [])
    return all(verbs <= held.get(key, set()) for key, verbs in rbacrules.grants([rule]).items())


def _annotate(role: dict, autoupdate: bool) -> None:
    role["metadata"].setdefault("annotations", {})[AUTOUPDATE] = str(autoupdate).lower()


def _wait_served(run: ClusterState, edit: RoleEdit, granted: bool) -> None:
    until(lambda: _grants_all(_read(run, edit.role), edit.rule) == granted,
          timeout=waits().rbac_change, interval=1.0, retry_on=(AuthprobeError,),
          what=f"{edit.role} served {'with' if granted else 'without'} {edit.lines[0]}")


def edit_before(env, run: ClusterState) -> str:
    """Take each edit's permission out of its role (and mark the role autoupdate "false"
    where the edit says), before the upgrade."""
    said = []
    for edit in EDITS:
        role = _read(run, edit.role)
        try:
            role["rules"] = rbacrules.without(role.get("rules") or [], edit.rule)
        except ValueError as err:
            raise AuthprobeError(f"{edit.role} cannot be edited before the upgrade: {err}"
                                 ) from None
        _annotate(role, edit.autoupdate)
        _replace(run, role)
        _wait_served(run, edit, granted=False)
        said.append(f"{edit.role} without {', '.join(edit.lines)} (autoupdate "
                    f"{str(edit.autoupdate).lower()})")
    return "; ".join(said)


def protected_roles(log: list[str]) -> list[str]:
    """The roles kube-apiserver's log says it did not reconcile (autoupdate "false")."""
    return sorted({found.group("role") for line in log for found in [PROTECTED.search(line)]
                   if found})


def record_after(env, run: ClusterState) -> str:
    """Read the edited roles as the upgraded kube-apiserver serves them, and its log of its
    start; record both in the upgrade's record; put the roles back as a fresh cluster has
    them."""
    if run.found.upgrade is None:
        raise AuthprobeError("no record of the upgrade to add the role edits to")
    life = run.handle.apiserver_life()
    log = container_logs(run.handle.node, life.runtime_container_id, tail=LOG_LINES)
    records = []
    for edit in EDITS:
        role = _read(run, edit.role)
        records.append({
            "role": edit.role, "taken_out": edit.lines,
            "autoupdate_before": str(edit.autoupdate).lower(),
            "autoupdate_after": (role["metadata"].get("annotations") or {}).get(AUTOUPDATE),
            "served_after": _grants_all(role, edit.rule)})
    protected = [line.strip() for line in log if PROTECTED.search(line)]
    run.found.upgrade["role_edits"] = {"edits": records, "apiserver_protected": protected,
                                       "protected_roles": protected_roles(log)}
    for edit, record in zip(EDITS, records, strict=True):
        role = _read(run, edit.role)
        if not record["served_after"]:
            role["rules"] = [*(role.get("rules") or []), edit.rule]
        _annotate(role, True)
        _replace(run, role)
        _wait_served(run, edit, granted=True)
    return "; ".join(
        f"{r['role']} (autoupdate {r['autoupdate_after']}): {', '.join(r['taken_out'])} "
        + ("served again" if r["served_after"] else "still taken out")
        for r in records) + "; both put back as a fresh cluster has them"


STEPS = [
    Step("edit-roles", edit_before, UPGRADE, after="settle"),
    Step("roles-reconciled", record_after, UPGRADE, after="ready"),
]
