"""After an upgrade in place (``--upgrade-to``): what kube-apiserver's reconciliation of its
default roles did to two roles changed before the upgrade (authprobe.harness.role_edits).

At every start kube-apiserver gives each default ClusterRole the permissions its minor's
policy has and the role lacks, and takes none away; a role annotated
``rbac.authorization.kubernetes.io/autoupdate: "false"`` it leaves as it is, and logs that
it skipped it. Before the upgrade one permission was taken out of system:basic-user, marked
autoupdate "false", and one out of system:public-info-viewer, left "true". The upgraded
kube-apiserver's start is what reconciles them; the scenario reads what the upgrade's
record holds of both roles as it left them, and the warning of kube-apiserver's own log.
The rules of the default roles themselves, on this cluster as on a fresh one, are those
of default_roles_served."""

import pytest

pytestmark = pytest.mark.after_upgrade


def test_default_roles_after_upgrade(cluster, observe):
    record = (cluster.upgrade or {}).get("role_edits")
    assert record, "the upgrade's record holds no role edits: the step roles-reconciled did not run"
    edits = record["edits"]
    observe(role_edits_kept=sorted(line for e in edits if not e["served_after"]
                                   for line in e["taken_out"]),
            role_edits_undone=sorted(line for e in edits if e["served_after"]
                                     for line in e["taken_out"]),
            reconcile_protected=record["protected_roles"])
    observe.evidence(role_edits=edits, apiserver_protected=record["apiserver_protected"])
    frozen = {e["role"] for e in edits if e["autoupdate_before"] == "false"}
    said = set(record["protected_roles"])
    kept = {e["role"] for e in edits if not e["served_after"]}
    assert kept <= said, (
        f"{', '.join(sorted(kept - said))} kept the edit, but kube-apiserver's log does not "
        "say it skipped the role")
    assert {e["role"] for e in edits if e["autoupdate_after"] == "false"} == frozen, (
        "the autoupdate annotations changed across the upgrade: " + ", ".join(
            f"{e['role']} {e['autoupdate_before']} -> {e['autoupdate_after']}" for e in edits))
