"""Samples of one metric family read from kube-apiserver's ``/metrics`` (the Prometheus text
format): the cluster's own count of what it did, such as each webhook authorizer's failed
round-trips."""

from __future__ import annotations

import re

# Round-trips of each Webhook entry of the chain to its webhook, by the entry's name and
# result (success, error, timeout, canceled), and those of them an entry with failurePolicy
# NoOpinion turned into no opinion (k8s.io/apiserver plugin/pkg/authorizer/webhook/metrics,
# registered by kube-apiserver from 1.30). apiserver_authorization_decisions_total is not
# among them: kube-apiserver never registers it, so /metrics does not show it.
WEBHOOK_EVALUATIONS = "apiserver_authorization_webhook_evaluations_total"
WEBHOOK_FAIL_OPEN = "apiserver_authorization_webhook_evaluations_fail_open_total"

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+'
                     r'(?P<value>\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str, family: str) -> list[tuple[dict[str, str], float]]:
    """Each sample of ``family`` in ``text``: its labels and its value."""
    found = []
    for line in text.splitlines():
        if not line.startswith(family):
            continue
        match = _SAMPLE.match(line.strip())
        if match is None or match.group("name") != family:
            continue
        labels = {key: re.sub(r"\\(.)", r"\1", value)
                  for key, value in _LABEL.findall(match.group("labels") or "")}
        found.append((labels, float(match.group("value"))))
    return found


def by_name(text: str, family: str, **labels: str) -> dict[str, float]:
    """The samples of ``family`` carrying ``labels``, summed by their ``name`` label."""
    counts: dict[str, float] = {}
    for found, value in samples(text, family):
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            name = found.get("name", "")
            counts[name] = counts.get(name, 0.0) + value
    return counts


def webhook_failures(text: str) -> dict[str, dict[str, float]]:
    """Per Webhook entry: its failed round-trips (``errors``) and those it failed open on
    (``failed_open``)."""
    return {"errors": by_name(text, WEBHOOK_EVALUATIONS, result="error"),
            "failed_open": by_name(text, WEBHOOK_FAIL_OPEN)}


def risen(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """The names whose count is higher ``after`` than ``before``, sorted."""
    return sorted(name for name, value in after.items() if value > before.get(name, 0.0))
