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

from authprobe.harness.role_edits import AUTOUPDATE
from authprobe.harness.roles import read_aggregated
from authprobe.model import rbacrules

ROLES = (
    "cluster-admin", "admin", "edit", "view",
    "system:basic-user", "system:discovery", "system:public-info-viewer",
    "system:monitoring",
    "system:node", "system:node-proxier",
    "system:controller:clusterrole-aggregation-controller",
    "system:controller:namespace-controller",
    "system:controller:generic-garbage-collector",
)


def selectors(role: dict) -> list[str]:
    """An aggregated role's label selectors as ``key=value`` texts (a report hides the value
    under a key that names authorization, as the aggregation labels do)."""
    return [f"{key}={value}" for selector in role["aggregationRule"].get(
        "clusterRoleSelectors") or [] for key, value in (selector.get("matchLabels") or {}).items()]


def test_default_roles_served(cluster, observe):
    roles, missing = read_aggregated(cluster, ROLES)
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
    assert not missing, "aggregated roles lack rules of the roles they pick: " + "; ".join(
        f"{name}: {', '.join(lines[:3])}" for name, lines in missing.items())
