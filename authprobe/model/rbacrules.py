"""The rules of RBAC roles as lines of text, one per role, API group and resource (or
non-resource URL), with the verbs the role grants on it.

A role's rules are read as what they grant, not as they are written: a rule that names two
groups, three resources and four verbs grants each verb on each of the six group-resource
pairs, and two rules that grant verbs on the same pair are one line. So a role whose
permissions did not change reads the same however its rules are split: kube-apiserver's
reconciliation of the default roles adds each missing permission as a rule of its own
(one group, resource and verb), where a fresh cluster has the upstream rule that holds them
together. Wildcards are kept as written (``*`` is not expanded), and a rule limited to named
objects gives one line per name::

    [view] apps: deployments (get,list,watch)
    [system:kube-scheduler] coordination.k8s.io: leases[kube-scheduler] (get,update)
    [system:monitoring] url /metrics (get)
    [cluster-admin] *: * (*)

The core API group (``""``) is written ``core``. The verbs are in brackets, not after a colon:
a report takes ``serviceaccounts/token: create`` for a token field and hides its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CORE = "core"
URL = "url"


def _names(rule: Mapping[str, Any], key: str) -> list[str]:
    value = rule.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"a rule's {key} must be a list of strings, not {value!r}")
    return value


def grants(rules: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], set[str]]:
    """What the rules grant: (group, resource, name) or (url,) -> verbs; a rule without
    resourceNames has the name ``""``."""
    found: dict[tuple[str, ...], set[str]] = {}
    for rule in rules:
        verbs = set(_names(rule, "verbs"))
        if not verbs:
            continue
        for url in _names(rule, "nonResourceURLs"):
            found.setdefault((url,), set()).update(verbs)
        for group in _names(rule, "apiGroups"):
            for resource in _names(rule, "resources"):
                for name in _names(rule, "resourceNames") or [""]:
                    found.setdefault((group, resource, name), set()).update(verbs)
    return found


def _line(role: str, key: tuple[str, ...], verbs: set[str]) -> str:
    listed = ",".join(sorted(verbs))
    if len(key) == 1:
        return f"[{role}] {URL} {key[0]} ({listed})"
    group, resource, name = key
    named = f"[{name}]" if name else ""
    return f"[{role}] {group or CORE}: {resource}{named} ({listed})"


def role_lines(role: str, rules: Iterable[Mapping[str, Any]]) -> list[str]:
    """The lines of one role's rules, sorted."""
    return sorted(_line(role, key, verbs) for key, verbs in grants(rules).items())


def lines_of(roles: Mapping[str, Iterable[Mapping[str, Any]]]) -> list[str]:
    """The lines of several roles (role name -> its rules as the API serves them), sorted."""
    return sorted(line for role, rules in roles.items() for line in role_lines(role, rules))


def without(rules: list[Mapping[str, Any]], removed: Mapping[str, Any]) -> list[dict]:
    """The rules with what ``removed`` (a rule) grants taken out: each rule that grants any
    of it is replaced by rules granting the rest of what it granted, one per resource (or
    URL); the others are kept as they are. ValueError when the rules grant none of it."""
    taken = grants([removed])
    if not any(verbs & grants(rules).get(key, set()) for key, verbs in taken.items()):
        raise ValueError(f"the rules grant nothing of {dict(removed)}")
    out: list[dict] = []
    for rule in rules:
        own = grants([rule])
        if not any(verbs & own.get(key, set()) for key, verbs in taken.items()):
            out.append(dict(rule))
            continue
        for key, verbs in sorted(own.items()):
            left = verbs - taken.get(key, set())
            if left:
                out.append(_rule(key, left))
    return out


def _rule(key: tuple[str, ...], verbs: set[str]) -> dict:
    if len(key) == 1:
        return {"nonResourceURLs": [key[0]], "verbs": sorted(verbs)}
    group, resource, name = key
    return {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs),
            **({"resourceNames": [name]} if name else {})}


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        holds = {"In": labels.get(key) in values,
                 "NotIn": labels.get(key) not in values,
                 "Exists": key in labels,
                 "DoesNotExist": key not in labels}.get(operator)
        if holds is None:
            raise ValueError(f"unknown label selector operator {operator!r}")
        if not holds:
            return False
    return True


def aggregation_missing(role: Mapping[str, Any], roles: Iterable[Mapping[str, Any]]
                        ) -> list[str]:
    """What an aggregated ClusterRole (one with an aggregationRule) does not yet grant of
    the roles its selectors pick, as lines of that role (empty: it holds them all)."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    name = role["metadata"]["name"]
    picked = [other for other in roles if other["metadata"]["name"] != name and any(
        selects(s, other["metadata"].get("labels") or {}) for s in selectors)]
    wanted = grants(rule for other in picked for rule in other.get("rules") or [])
    held = grants(role.get("rules") or [])
    return sorted(_line(name, key, verbs - held.get(key, set()))
                  for key, verbs in wanted.items() if verbs - held.get(key, set()))
