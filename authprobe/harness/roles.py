"""The ClusterRoles a cluster serves, read once the aggregated ones are complete: the
aggregation controller of kube-controller-manager writes the rules of view, edit and admin
(and of any role with an aggregationRule) after the cluster starts and after every change to
a role they pick, so a role read or a request authorized before that sees fewer rules."""

from __future__ import annotations

from collections.abc import Iterable

import kubernetes
from kubernetes.client.exceptions import ApiException

from ..model import rbacrules
from ..model.timeouts import waits
from ..wait import until
from .readiness import UNREACHABLE


def served_roles(cluster) -> dict[str, dict]:
    """Every ClusterRole the cluster serves, by name, as the API writes it."""
    listed = kubernetes.client.RbacAuthorizationV1Api(cluster.api).list_cluster_role()
    return {item["metadata"]["name"]: item
            for item in cluster.api.sanitize_for_serialization(listed)["items"]}


def read_aggregated(cluster, names: Iterable[str] | None = None
                    ) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """The served ClusterRoles once the aggregated roles among ``names`` (all of them: None)
    hold the rules of the roles they pick, and what each still lacked when the wait (the
    named ``rbac_change``) ended: nothing when all are complete."""
    wanted = None if names is None else set(names)
    seen: dict = {}

    def complete() -> bool:
        roles = served_roles(cluster)
        seen["roles"] = roles
        seen["missing"] = {
            name: rbacrules.aggregation_missing(role, roles.values())
            for name, role in roles.items()
            if role.get("aggregationRule") and (wanted is None or name in wanted)}
        return not any(seen["missing"].values())

    until(complete, timeout=waits().rbac_change, interval=2.0, give_last=True,
          retry_on=(ApiException, *UNREACHABLE), what="the aggregated ClusterRoles to be complete",
          state=lambda: "; ".join(f"{name} lacks {len(lines)}" for name, lines in
                                  seen.get("missing", {}).items() if lines) or "not read")
    return seen["roles"], {name: lines for name, lines in seen["missing"].items() if lines}
