"""Samples of one metric family read from kube-apiserver's ``/metrics`` (the Prometheus text
format): the cluster's own count of what it did, such as each authorizer's decisions."""

from __future__ import annotations

import re

# apiserver_authorization_decisions_total{type, name, decision}: the terminal decisions of each
# authorizer of the chain, by the name its AuthorizationConfiguration entry gives it (1.30+).
AUTHORIZATION_DECISIONS = "apiserver_authorization_decisions_total"

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+'
                     r'(?P<value>\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str, family: str) -> list[tuple[dict[str, str], float]]:
    """Each sample of ``family`` in ``text``: its labels and its value."""
    found = []
    for line in text.splitlines():
        if not line.startswith(family) or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if match is None or match.group("name") != family:
            continue
        labels = {key: re.sub(r"\\(.)", r"\1", value)
                  for key, value in _LABEL.findall(match.group("labels") or "")}
        found.append((labels, float(match.group("value"))))
    return found


def denials_by_authorizer(text: str) -> dict[str, float]:
    """How many requests each named authorizer of the chain has denied so far."""
    return {labels.get("name", ""): value
            for labels, value in samples(text, AUTHORIZATION_DECISIONS)
            if labels.get("decision") == "denied"}


def risen(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """The names whose count is higher ``after`` than ``before``, sorted."""
    return sorted(name for name, value in after.items() if value > before.get(name, 0.0))
