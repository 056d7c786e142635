"""The rules of RBAC roles as lines: what they grant, however the rules are split; a
permission taken out of a role; what an aggregated role does not yet hold."""

from __future__ import annotations

import pytest

from authprobe.model import rbacrules
from authprobe.report.scrub import scrub

# system:monitoring and system:kube-scheduler's lease rules as kube-apiserver 1.34 serves them
MONITORING = [
    {"nonResourceURLs": ["/healthz", "/healthz/*", "/livez", "/metrics"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
]
LEASES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "resourceNames": ["kube-scheduler"], "verbs": ["get", "update"]},
]


def test_a_role_reads_as_one_line_per_group_resource_and_url():
    assert rbacrules.role_lines("system:monitoring", MONITORING) == [
        "[system:monitoring] core: nodes/metrics (get)",
        "[system:monitoring] url /healthz (get)",
        "[system:monitoring] url /healthz/* (get)",
        "[system:monitoring] url /livez (get)",
        "[system:monitoring] url /metrics (get)",
    ]


def test_named_objects_are_a_line_of_their_own():
    assert rbacrules.role_lines("system:kube-scheduler", LEASES) == [
        "[system:kube-scheduler] coordination.k8s.io: leases (create)",
        "[system:kube-scheduler] coordination.k8s.io: leases[kube-scheduler] (get,update)",
    ]


def test_rules_split_as_reconciliation_writes_them_read_as_the_rule_they_came_from():
    """kube-apiserver adds each missing permission as a rule of one group, resource and verb;
    a fresh cluster has the upstream rule that holds them together."""
    upstream = [{"apiGroups": ["", "events.k8s.io"], "resources": ["events"],
                 "verbs": ["update", "create", "patch"]}]
    pieces = [{"apiGroups": [group], "resources": ["events"], "verbs": [verb]}
              for group in ("events.k8s.io", "") for verb in ("patch", "create", "update")]
    assert rbacrules.role_lines("r", pieces) == rbacrules.role_lines("r", upstream) == [
        "[r] core: events (create,patch,update)",
        "[r] events.k8s.io: events (create,patch,update)",
    ]


def test_wildcards_are_kept_as_written():
    admin = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
             {"nonResourceURLs": ["*"], "verbs": ["*"]}]
    assert rbacrules.lines_of({"cluster-admin": admin}) == [
        "[cluster-admin] *: * (*)", "[cluster-admin] url * (*)"]


def test_several_roles_are_sorted_by_role():
    lines = rbacrules.lines_of({"b": LEASES[:1], "a": MONITORING[1:]})
    assert lines == ["[a] core: nodes/metrics (get)", "[b] coordination.k8s.io: leases (create)"]


def test_a_rule_that_is_not_a_list_of_strings_is_refused():
    with pytest.raises(ValueError, match="verbs"):
        rbacrules.role_lines("r", [{"apiGroups": [""], "resources": ["pods"], "verbs": "get"}])


BASIC_USER = [
    {"apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
     "verbs": ["create"]},
]
RULES_REVIEW = {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"],
                "verbs": ["create"]}


def test_a_permission_taken_out_leaves_the_rest_of_its_rule_and_the_other_rules():
    left = rbacrules.without(BASIC_USER, RULES_REVIEW)
    assert left[1] == BASIC_USER[1]
    assert rbacrules.role_lines("system:basic-user", left) == [
        "[system:basic-user] authentication.k8s.io: selfsubjectreviews (create)",
        "[system:basic-user] authorization.k8s.io: selfsubjectaccessreviews (create)",
    ]
    back = rbacrules.role_lines("system:basic-user", [*left, RULES_REVIEW])
    assert back == rbacrules.role_lines("system:basic-user", BASIC_USER)


def test_one_verb_taken_out_keeps_the_others():
    left = rbacrules.without(LEASES, {"apiGroups": ["coordination.k8s.io"],
                                      "resources": ["leases"], "resourceNames": ["kube-scheduler"],
                                      "verbs": ["update"]})
    assert rbacrules.role_lines("s", left) == [
        "[s] coordination.k8s.io: leases (create)",
        "[s] coordination.k8s.io: leases[kube-scheduler] (get)"]


def test_a_url_taken_out():
    viewer = [{"nonResourceURLs": ["/healthz", "/version", "/version/"], "verbs": ["get"]}]
    left = rbacrules.without(viewer, {"nonResourceURLs": ["/version/"], "verbs": ["get"]})
    assert rbacrules.role_lines("v", left) == ["[v] url /healthz (get)", "[v] url /version (get)"]


def test_taking_out_what_the_role_does_not_grant_is_an_error():
    with pytest.raises(ValueError, match="grant nothing"):
        rbacrules.without(MONITORING, RULES_REVIEW)


def role(name, rules=None, labels=None, selectors=None):
    found = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if selectors is not None:
        found["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return found


TO_VIEW = {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
PICKED = role("system:aggregate-to-view", LEASES[:1],
              {"rbac.authorization.k8s.io/aggregate-to-view": "true"})


def test_an_aggregated_role_lacks_what_the_roles_it_picks_grant_until_it_holds_it():
    empty = role("view", None, selectors=[TO_VIEW])
    assert rbacrules.aggregation_missing(empty, [empty, PICKED]) == [
        "[view] coordination.k8s.io: leases (create)"]
    filled = role("view", LEASES[:1], selectors=[TO_VIEW])
    assert rbacrules.aggregation_missing(filled, [filled, PICKED]) == []


def test_a_role_the_selectors_do_not_pick_is_not_wanted():
    other = role("other", MONITORING, {"rbac.authorization.k8s.io/aggregate-to-edit": "true"})
    view = role("view", LEASES[:1], selectors=[TO_VIEW])
    assert rbacrules.aggregation_missing(view, [view, PICKED, other]) == []


@pytest.mark.parametrize(("expression", "labels", "picked"), [
    ({"key": "a", "operator": "In", "values": ["1"]}, {"a": "1"}, True),
    ({"key": "a", "operator": "NotIn", "values": ["1"]}, {"a": "1"}, False),
    ({"key": "a", "operator": "Exists"}, {}, False),
    ({"key": "a", "operator": "DoesNotExist"}, {}, True),
])
def test_selector_expressions(expression, labels, picked):
    assert rbacrules.selects({"matchExpressions": [expression]}, labels) is picked


def test_an_unknown_selector_operator_is_refused():
    with pytest.raises(ValueError, match="operator 'Gt'"):
        rbacrules.selects({"matchExpressions": [{"key": "a", "operator": "Gt"}]}, {})


def test_a_line_passes_the_reports_scrub_as_it_is():
    """A report hides the value of anything that reads as a token field (``token: x``); a
    role's line naming serviceaccounts/token keeps its verbs."""
    edit = [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
             "verbs": ["create"]}]
    lines = rbacrules.role_lines("edit", edit)
    assert lines == ["[edit] authentication.k8s.io: tokenreviews (create)",
                     "[edit] core: serviceaccounts/token (create)"]
    assert scrub(lines) == lines
