"""The webhook authorizer's policy: an ordered list of rules a profile declares as data.

A rule names what it matches and what it decides::

    rules:
      - {group: "jwt:team-a", verb: [get, list], resource: pods, namespace: team-a,
         decision: allow, reason: team-a reads its pods}
      - {user: "jwt:mallory", decision: deny, reason: mallory is locked out}
      - {path: "/healthz", decision: no-opinion, reason: health is left to RBAC}
    default: no-opinion

Every key a rule gives must match (a list matches any of its items, ``"*"`` anything); keys
it leaves out match anything. ``user`` and ``group`` match the reviewed subject; ``verb``
either kind of request; ``apiGroup``, ``resource``, ``subresource``, ``namespace`` and
``name`` only a resource request; ``path`` only a non-resource request (a trailing ``*``
matches a prefix). The first matching rule decides; no match leaves the ``default``
(``no-opinion`` unless said). Decisions are ``allow``, ``deny`` and ``no-opinion``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError

DECISIONS = ("allow", "deny", "no-opinion")
SUBJECT_KEYS = ("user", "group")
RESOURCE_KEYS = ("apiGroup", "resource", "subresource", "namespace", "name")
MATCH_KEYS = (*SUBJECT_KEYS, "verb", *RESOURCE_KEYS, "path")
RULE_KEYS = (*MATCH_KEYS, "decision", "reason")


@dataclass(frozen=True)
class Review:
    """The parts of a SubjectAccessReview's spec a rule can match."""

    user: str
    groups: tuple[str, ...]
    uid: str
    extra: dict
    resource: dict | None
    non_resource: dict | None

    @property
    def verb(self) -> str:
        attributes = self.resource if self.resource is not None else self.non_resource or {}
        return attributes.get("verb", "")


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str
    rule: int | None  # index of the rule that decided; None for the default


@dataclass(frozen=True)
class Rule:
    match: dict  # key -> tuple of accepted values
    decision: str
    reason: str

    def matches(self, review: Review) -> bool:
        for key, accepted in self.match.items():
            if not self._key_matches(key, accepted, review):
                return False
        return True

    @staticmethod
    def _key_matches(key: str, accepted: tuple[str, ...], review: Review) -> bool:
        if key == "user":
            return _any(accepted, [review.user])
        if key == "group":
            return _any(accepted, review.groups)
        if key == "verb":
            return _any(accepted, [review.verb])
        if key == "path":
            if review.non_resource is None:
                return False
            path = review.non_resource.get("path", "")
            return any(value == "*" or value == path
                       or (value.endswith("*") and path.startswith(value[:-1]))
                       for value in accepted)
        if review.resource is None:
            return False
        field = "group" if key == "apiGroup" else key
        return _any(accepted, [review.resource.get(field, "")])


def _any(accepted: tuple[str, ...], values) -> bool:
    return any(value == "*" or value in values for value in accepted)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    default: str = "no-opinion"

    def decide(self, review: Review) -> Decision:
        for index, rule in enumerate(self.rules):
            if rule.matches(review):
                return Decision(rule.decision, rule.reason, index)
        return Decision(self.default, f"no rule matched: default {self.default}", None)


def _bad(source: str, where: str, what: str) -> AuthprobeError:
    return AuthprobeError(f"{source}: {where}: {what}")


def parse_policy(data: Any, source: str = "webhook policy") -> Policy:
    """A policy from its data (``{rules: [...], default: ...}``); a malformed rule is one
    line naming the rule and what to write instead."""
    if not isinstance(data, dict):
        raise _bad(source, "policy", "must be a mapping with 'rules' (and optional 'default')")
    unknown = sorted(set(data) - {"rules", "default"})
    if unknown:
        raise _bad(source, "policy", f"unknown keys {unknown}; a policy has 'rules' and "
                                     "'default'")
    default = data.get("default", "no-opinion")
    if default not in DECISIONS:
        raise _bad(source, "default", f"unknown decision {default!r}; write one of "
                                      f"{', '.join(DECISIONS)}")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list):
        raise _bad(source, "rules", "must be a list of rules")
    return Policy(tuple(_parse_rule(rule, f"rules[{index}]", source)
                        for index, rule in enumerate(rules_data)), default)


def _parse_rule(data: Any, where: str, source: str) -> Rule:
    if not isinstance(data, dict):
        raise _bad(source, where, "must be a mapping of match keys, 'decision' and 'reason'")
    unknown = sorted(set(data) - set(RULE_KEYS))
    if unknown:
        raise _bad(source, where, f"unknown keys {unknown}; a rule matches on "
                                  f"{', '.join(MATCH_KEYS)}")
    decision = data.get("decision")
    if decision not in DECISIONS:
        raise _bad(source, where, f"unknown decision {decision!r}; write one of "
                                  f"{', '.join(DECISIONS)}")
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _bad(source, where, "needs a 'reason': the words the webhook answers with")
    if "path" in data and set(data) & set(RESOURCE_KEYS):
        raise _bad(source, where, "'path' matches non-resource requests only; it cannot be "
                                  "combined with " + ", ".join(sorted(set(data) &
                                                                     set(RESOURCE_KEYS))))
    match = {}
    for key in MATCH_KEYS:
        if key not in data:
            continue
        value = data[key]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(item, str) for item in values):
            raise _bad(source, f"{where}.{key}", "must be a string or a non-empty list of "
                                                 "strings")
        match[key] = tuple(values)
    return Rule(match, decision, reason.strip())


def load_policy(path: Path) -> Policy:
    """The policy in the YAML file at ``path``."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise AuthprobeError(f"cannot read webhook policy {path}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise AuthprobeError(f"{path}: not valid YAML{at}; fix the file") from err
    return parse_policy(data, str(path))
