"""The authorizer chain of an AuthorizationConfiguration (the profile's ``authorizer``):
Node, then the cluster's webhook authorizer (failurePolicy NoOpinion), then the same webhook
for the strict- users (failurePolicy Deny), then RBAC. JWT users of the cluster's issuer ask
for the pods of the scenarios' namespace; the webhook's policy allows one, denies another
and has no opinion on the rest, which RBAC then decides. Each answer is checked against the
apiserver's audit record (its authorization.k8s.io/decision and reason) and against the
webhook's own log of the reviews it answered: a request its matchConditions leave out, or
made while it is stopped, has none. What each scenario records is judged by its row, field
by field (scenarios/observations.yaml)."""

from urllib.parse import urlsplit

from authprobe.harness.apimetrics import risen, webhook_failures
from authprobe.harness.render import OUTSIDE_NAMESPACE, SCENARIO_NAMESPACE
from authprobe.model.timeouts import waits
from authprobe.scenario import answered, status_message, wait_for_status

PODS = f"/api/v1/namespaces/{SCENARIO_NAMESPACE}/pods"
# Outside the webhook's matchConditions: another namespace.
OTHER_PODS = f"/api/v1/namespaces/{OUTSIDE_NAMESPACE}/pods"


def reviews_of(cluster, user: str, path: str, after: int) -> list[dict]:
    """The webhook's reviews, among those logged after the first ``after``, of ``user``
    listing pods in the namespace of ``path``."""
    namespace = path.split("/")[4]
    return [record for record in cluster.webhook_log()[after:]
            if (record.get("subject") or {}).get("user") == user
            and (record.get("resourceAttributes") or {}).get("namespace") == namespace
            and (record.get("resourceAttributes") or {}).get("resource") == "pods"]


def without_webhook_address(cluster, text: str) -> str:
    """``text`` with the webhook's host:port (another for each cluster) written <webhook>:
    an error of kube-apiserver's webhook client names it."""
    return text.replace(urlsplit(cluster.webhook_url).netloc, "<webhook>")


def ask(cluster, observe, sub: str, path: str = PODS, groups=()):
    """A JWT user ``sub`` lists the pods of ``path``: the answer, its audit record and the
    webhook's reviews of it are recorded."""
    client = cluster.with_token(cluster.jwt(sub, groups=list(groups)))
    mark = len(cluster.webhook_log())
    try:
        response = answered(lambda: client.get(path))
    finally:
        client.close()
    record = observe.audit(cluster.audit.record_of(response))
    reviews = reviews_of(cluster, f"jwt:{sub}", path, mark)
    observe(path=path, status=response.status_code,
            message=without_webhook_address(cluster, status_message(response)),
            audit_reason=record.reason,
            webhook_decision=reviews[-1]["decision"] if reviews else None)
    observe.evidence(webhook_reviews=reviews)
    return response


def test_webhook_allows(cluster, expected, observe):
    ask(cluster, observe, "alice")


def test_webhook_denies_before_rbac(cluster, expected, observe, granted):
    with granted("jwt:mallory", ["list"], "pods"):
        # RBAC lets mallory list pods where the webhook is not asked ...
        client = cluster.with_token(cluster.jwt("mallory"))
        try:
            outside = wait_for_status(lambda: client.get(OTHER_PODS), 200)
        finally:
            client.close()
        observe.evidence(rbac_outside_match_conditions=outside.status_code)
        assert outside.status_code == 200, (
            f"RBAC's binding of jwt:mallory is not in effect: {outside.status_code}")
        # ... and the webhook, before RBAC in the chain, denies it here.
        ask(cluster, observe, "mallory")


def test_webhook_no_opinion_falls_to_rbac(cluster, expected, observe, granted):
    with granted("jwt:dave", ["list"], "pods"):
        ask(cluster, observe, "dave")


def test_webhook_outside_match_conditions(cluster, expected, observe):
    ask(cluster, observe, "erin", path=OTHER_PODS)


def failures_now(cluster) -> dict[str, dict[str, float]]:
    """kube-apiserver's count of each Webhook entry's failures, from /metrics as a member of
    system:monitoring reads it (the admin's binding does not cover /metrics)."""
    client = cluster.as_user("monitor")
    try:
        metrics = client.get("/metrics")
    finally:
        client.close()
    assert metrics.status_code == 200, f"/metrics for system:monitoring: {metrics.status_code}"
    return webhook_failures(metrics.text)


def ask_while_down(cluster, observe, sub: str) -> None:
    """The webhook stopped, ``sub`` asks (:func:`ask`); then /readyz, and which Webhook
    entries kube-apiserver counts a failed round-trip for, and which of them failed open
    (its /metrics before and after)."""
    before = failures_now(cluster)
    cluster.stop_webhook()
    try:
        ask(cluster, observe, sub)
        ready = answered(lambda: cluster.admin.get("/readyz"), within=waits().answer_settles)
        observe(readyz_status=ready.status_code)
    finally:
        cluster.start_webhook()
    after = failures_now(cluster)
    observe.evidence(webhook_failures_before=before, webhook_failures_after=after)
    observe(webhook_errors=risen(before["errors"], after["errors"]),
            failed_open=risen(before["failed_open"], after["failed_open"]))


def test_webhook_down_falls_to_rbac(cluster, expected, observe, granted):
    """The webhook stopped: its failurePolicy NoOpinion hands the request to RBAC, which
    allows the bound user; the apiserver stays ready."""
    with granted("jwt:frank", ["list"], "pods"):
        ask_while_down(cluster, observe, "frank")


def test_webhook_down_deny_policy_fails_closed(cluster, expected, observe, granted):
    """The webhook stopped, a strict- user bound by RBAC: the first entry (failurePolicy
    NoOpinion) passes the request on, the strict entry (failurePolicy Deny) ends the chain
    before RBAC. kube-apiserver counts a failed round-trip for both entries and a fail-open
    for the first only; it stays ready."""
    with granted("jwt:strict-grace", ["list"], "pods"):
        # RBAC lets strict-grace list pods where the webhook is not asked ...
        client = cluster.with_token(cluster.jwt("strict-grace"))
        try:
            outside = wait_for_status(lambda: client.get(OTHER_PODS), 200)
        finally:
            client.close()
        observe.evidence(rbac_outside_match_conditions=outside.status_code)
        assert outside.status_code == 200, (
            f"RBAC's binding of jwt:strict-grace is not in effect: {outside.status_code}")
        # ... and, the webhook down, the strict entry denies it here.
        ask_while_down(cluster, observe, "strict-grace")
