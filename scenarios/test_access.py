"""A team's own RBAC (the profile's ``rbac`` part, see clusters/profiles/README.md): its
RBAC folder as the cluster holds it, its access table checked twice per entry, and how long
a deleted binding still lets its subject in at kube-apiserver and at the kubelet's port.
Profiles that name no RBAC folder or access table have none of these (their rows say n/a).
What each scenario records is judged by its row, field by field
(scenarios/observations.yaml)."""

import pytest

from authprobe.errors import NotRunnable
from authprobe.harness import access_check, revocation
from authprobe.harness.rbac import read_back
from authprobe.harness.roles import read_aggregated
from authprobe.model.access import summary
from authprobe.model.rbac import differences


def rbac_of(cluster):
    rbac = cluster.profile.rbac
    if rbac is None:
        raise NotRunnable(f"profile {cluster.profile.id} names no rbac part")
    return rbac


def access_table_of(cluster):
    table = rbac_of(cluster).access
    if table is None:
        raise NotRunnable(f"profile {cluster.profile.id} names no access table (rbac.access)")
    return table


def test_rbac_objects_as_written(cluster, observe):
    """Every object of the RBAC folder, read back: applied at bring-up, and after an upgrade
    in place as the upgrade left it (nothing is applied again). A ClusterRole marked
    rbac.authorization.kubernetes.io/autoupdate: "false" keeps its rules; kube-apiserver
    puts the built-in rules back into a built-in one that is not, when it starts."""
    rbac = rbac_of(cluster)
    if not rbac.manifests:
        raise NotRunnable(f"profile {cluster.profile.id} names no RBAC folder (rbac.manifests)")
    found = read_back(cluster.node, rbac)
    changed = [line for manifest, live in found for line in differences(manifest, live)]
    observe(rbac_changed=sorted(changed))
    observe.evidence(rbac_objects=[
        {"object": manifest.label, "source": manifest.source,
         "resourceVersion": (live or {}).get("metadata", {}).get("resourceVersion")}
        for manifest, live in found])


def test_access_table(cluster, observe):
    """Each entry of the access table as a SubjectAccessReview and as a real request with
    its subject's token; the request's audit record says whom kube-apiserver took it for.
    The entries the two checks agree on against the table, those they disagree on (a
    failure of its own: one of the two is not what kube-apiserver does), and those whose
    resource the minor does not serve are recorded apart."""
    table = access_table_of(cluster)
    # asked before kube-controller-manager has aggregated view, edit and admin, RBAC
    # answers from the rules they hold so far
    _, unaggregated = read_aggregated(cluster)
    checks, later = access_check.check_table(cluster, table)
    assert checks, f"no entry of {table.source} holds on {cluster.version}"
    observe(**summary(checks))
    observe.evidence(access=[check.to_dict() for check in checks],
                     access_starting_later=later, aggregated_roles_lacking=unaggregated)


@pytest.mark.runs_last
def test_access_revoked(cluster, observe):
    """A user bound to list nodes and get nodes/metrics, let in by kube-apiserver and by the
    kubelet's port; then the binding is deleted and each door is asked until it refuses. The
    kubelet's record is the apiserver's audit of its SubjectAccessReviews: the allowed one
    before the deletion, none while it held that answer, the denied one at its refusal."""
    access_table_of(cluster)
    found = revocation.measure(cluster)
    observe(revoked_apiserver_after=found.apiserver.refused_after,
            revoked_kubelet_after=found.kubelet.refused_after,
            kubelet_allow_held=found.allow_held)
    observe.evidence(revocation=found.evidence())
    assert found.allowed is not None, "no allowed review of the kubelet before the deletion"
    assert found.between == [], (
        "the kubelet asked kube-apiserver again while it still let the user in: "
        f"{[r.to_dict() for r in found.between]}")
    if found.kubelet.refused_after is not None:
        assert found.denied is not None, "the kubelet refused without a denied review audited"
