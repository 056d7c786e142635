"""The default ClusterRoles as the cluster serves them: the rules kube-apiserver's bootstrap
policy gives each minor, read as cluster-admin and recorded as one line per role, API group
and resource (or URL) with its verbs (authprobe.model.rbacrules). The aggregated roles
(view, edit, admin) are read once the aggregation controller has given them the rules of
every role their selectors pick, since that is what they grant.

The rows give, per minor, the rules it adds to and removes from these roles (the upstream
change in the row's note); the diff of adjacent minors lists the rules that changed, role
by role, and explains them by those rows. The roles do not depend on a profile's flags, so
one profile's cells record them.

The roles read: the user-facing ones (cluster-admin, and admin, edit and view, which
aggregate the system:aggregate-to-* roles), those bound to every user
(system:basic-user, system:discovery, system:public-info-viewer: groups
system:authenticated and system:unauthenticated), system:monitoring (group
system:monitoring), the node's and kube-proxy's (system:node, system:node-proxier), and the
three controller roles with the widest reach: the aggregation controller's (it writes
view, edit and admin, and may escalate), the namespace controller's (deletes everything in
a namespace) and the garbage collector's (deletes any object with an owner).
"""

import kubernetes
from kubernetes.client.exceptions import ApiException

from authprobe.model import rbacrules
from authprobe.model.timeouts import waits
from authprobe.scenario import answered
from authprobe.wait import until

ROLES = (
    "cluster-admin", "admin", "edit", "view",
    "system:basic-user", "system:discovery", "system:public-info-viewer",
    "system:monitoring",
    "system:node", "system:node-proxier",
    "system:controller:clusterrole-aggregation-controller",
    "system:controller:namespace-controller",
    "system:controller:generic-garbage-collector",
)
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


def served_roles(cluster) -> dict[str, dict]:
    """Every ClusterRole the cluster serves, by name, as the API writes it."""
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api)
    listed = answered(lambda: rbac.list_cluster_role())
    return {item["metadata"]["name"]: item
            for item in cluster.api.sanitize_for_serialization(listed)["items"]}


def read_aggregated(cluster) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """The served ClusterRoles once the aggregated roles of ROLES hold the rules of the roles
    they pick (the aggregation controller writes them after a change), and what each of
    those still lacked when the wait ended (nothing: all complete)."""
    seen: dict = {}

    def complete() -> bool:
        roles = served_roles(cluster)
        seen["roles"] = roles
        seen["missing"] = {
            name: rbacrules.aggregation_missing(roles[name], roles.values())
            for name in ROLES if name in roles and roles[name].get("aggregationRule")}
        return not any(seen["missing"].values())

    until(complete, timeout=waits().rbac_change, interval=2.0, give_last=True,
          retry_on=(ApiException,), what="the aggregated default roles to be complete",
          state=lambda: "; ".join(f"{name} lacks {len(lines)}" for name, lines in
                                  seen.get("missing", {}).items() if lines) or "not read")
    return seen["roles"], seen["missing"]


def selectors(role: dict) -> list[str]:
    """An aggregated role's label selectors as ``key=value`` texts (a report hides the value
    under a key that names authorization, as the aggregation labels do)."""
    return [f"{key}={value}" for selector in role["aggregationRule"].get(
        "clusterRoleSelectors") or [] for key, value in (selector.get("matchLabels") or {}).items()]


def test_default_roles_served(cluster, observe):
    roles, missing = read_aggregated(cluster)
    served = {name: roles[name].get("rules") or [] for name in ROLES if name in roles}
    observe(default_role_rules=rbacrules.lines_of(served))
    observe.evidence(
        not_served=[name for name in ROLES if name not in roles],
        autoupdate={name: (roles[name]["metadata"].get("annotations") or {}).get(AUTOUPDATE)
                    for name in served},
        aggregated={name: selectors(roles[name]) for name in served
                    if roles[name].get("aggregationRule")})
    assert {"cluster-admin", "admin", "edit", "view"} <= set(served), (
        f"the user-facing roles are not all served: {sorted(served)}")
    lacking = {name: lines for name, lines in missing.items() if lines}
    assert not lacking, "aggregated roles lack rules of the roles they pick: " + "; ".join(
        f"{name}: {', '.join(lines[:3])}" for name, lines in lacking.items())
