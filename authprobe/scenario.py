"""What scenarios use besides their fixtures: reading apiserver answers, and waiting out an
apiserver that is restarting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import requests

from .harness import readiness
from .harness.readiness import UNREACHABLE
from .harness.servers import SELF_SUBJECT_REVIEW, SELF_SUBJECT_REVIEW_PATH
from .model.timeouts import waits
from .wait import WaitTimeout, until

T = TypeVar("T")


def status_message(response: requests.Response) -> str:
    """The ``message`` of a metav1.Status body; the kind and apiVersion of any other
    Kubernetes object (a PodList, a SelfSubjectReview: their metadata, a resourceVersion or a
    creationTimestamp, differ from run to run and are not what a scenario compares); else the
    body text itself."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(body, dict) and body.get("kind") == "Status":
        return str(body.get("message", ""))
    if isinstance(body, dict) and body.get("kind") and body.get("apiVersion"):
        return f"{body['kind']} {body['apiVersion']}"
    return json.dumps(body, sort_keys=True)


def answered(call: Callable[[], T], within: float | None = None) -> T:
    """Run ``call``, retrying while the apiserver cannot be reached, for at most ``within`` s
    (the named ``apiserver_back`` by default).

    A restarting kube-apiserver is down for up to a few minutes (CrashLoopBackOff); an
    answer of any status is returned as it is.
    """
    return readiness.answered(call, waits().apiserver_back if within is None else within,
                              "an answer from kube-apiserver")


def self_subject_review(cluster, token: str) -> requests.Response:
    """POST a SelfSubjectReview to the cluster's apiserver presenting ``token`` (retried
    while the apiserver cannot be reached): who kube-apiserver takes the token's holder to be."""
    client = cluster.with_token(token)
    try:
        return answered(lambda: client.request("POST", SELF_SUBJECT_REVIEW_PATH,
                                               json=SELF_SUBJECT_REVIEW))
    finally:
        client.close()


def wait_for_status(call: Callable[[], requests.Response], status: int,
                    within: float | None = None) -> requests.Response:
    """Poll ``call`` until it answers ``status``, for at most ``within`` s (the named
    ``answer_settles`` by default); return the last response either way."""
    last: dict = {}

    def attempt() -> bool:
        last["response"] = call()
        return last["response"].status_code == status

    try:
        until(attempt, timeout=waits().answer_settles if within is None else within,
              interval=1.0, retry_on=UNREACHABLE, give_last=True,
              what=f"HTTP {status} from kube-apiserver",
              state=lambda: f"last answer {last['response'].status_code}" if last else
              "no answer")
    except WaitTimeout:
        if "response" not in last:
            raise
    return last["response"]


def failed_checks(response: requests.Response) -> list[str]:
    """The checks a health endpoint's verbose answer lists as failed ("[-]etcd failed: ...")."""
    return [line.strip() for line in response.text.splitlines() if line.startswith("[-]")]


def settled_health(call: Callable[[], requests.Response],
                   within: float | None = None) -> tuple[requests.Response, list[str]]:
    """Ask a health endpoint (/livez, /readyz, /healthz) until its answer is not a failed
    check, a 500 that lists one, or ``within`` seconds pass (the named ``answer_settles`` by
    default: etcd answering slowly on a loaded machine fails a check for a while). Such a
    500 is the apiserver's verdict on its own health, given after it authorized the request.
    Returns the last answer and the failed checks of the answers before it, for the cell's
    evidence."""
    failures: list[str] = []
    last: dict = {}

    def verdict() -> bool:
        response = answered(call)
        last["response"] = response
        failed = failed_checks(response) if response.status_code == 500 else []
        if failed:
            failures.append("; ".join(failed))
        return not failed

    until(verdict, timeout=waits().answer_settles if within is None else within,
          interval=2.0, give_last=True,
          what="a health answer without a failed check",
          state=lambda: failures[-1] if failures else "no answer yet")
    return last["response"], failures
