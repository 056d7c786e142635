"""A JWT user of the cluster's own issuer (the profile's ``issuer``): who kube-apiserver takes
the token's holder to be, the tokens it refuses, and what RBAC lets the mapped user do. The
issuer mints the tokens (signed with a key only it holds); kube-apiserver fetched its discovery
document and keys and verifies every token itself. Each request's audit record is the
evidence; the issuer's log of what it served and minted (never a token) goes with the
cluster's logs. What each scenario records is judged by its row, field by field
(scenarios/observations.yaml).

The same scenarios run for the issuer given as an AuthenticationConfiguration (jwt-authn) and
through the --oidc-* flags (oidc-flags), whose default username prefix is the issuer's URL: a
name, message or audited user is recorded with that URL written as ``{issuerURL}``
(``cluster.by_name``), since its port changes from run to run."""

from authprobe.harness.render import SCENARIO_NAMESPACE
from authprobe.harness.servers import SELF_SUBJECT_REVIEW_PATH
from authprobe.scenario import answered, self_subject_review, status_message

PODS = f"/api/v1/namespaces/{SCENARIO_NAMESPACE}/pods"


def review(cluster, token, observe):
    """POST a SelfSubjectReview with ``token``; record the answer and its audit record."""
    response = self_subject_review(cluster, token)
    observe(path=SELF_SUBJECT_REVIEW_PATH, status=response.status_code,
            message=cluster.by_name(status_message(response)))
    return response, audited(cluster, observe, response)


def audited(cluster, observe, response):
    """The request's audit record, kept as evidence; its user recorded by name."""
    record = observe.audit(cluster.audit.record_of(response))
    observe(audit_user=cluster.by_name(record.user))
    return record


def test_jwt_user_review(cluster, expected, observe):
    token = cluster.jwt("alice", groups=["readers"])
    response, record = review(cluster, token, observe)
    assert response.status_code == 201, f"SelfSubjectReview answered {response.status_code}"
    info = response.json()["status"]["userInfo"]
    observe(review_user=cluster.by_name(info.get("username")),
            review_groups=info.get("groups") or [],
            review_uid=info.get("uid") or None, review_extra=info.get("extra") or {})
    observe.evidence(audit_uid=record.uid, audit_extra=record.extra)
    # The audit record names the same user the review answers.
    assert (record.user, record.uid, record.extra) == (
        info.get("username"), info.get("uid") or None, info.get("extra") or {}), (
        f"the audit record says {record.user} uid {record.uid} extra {record.extra}, the "
        f"review {info}")
    assert sorted(record.groups) == sorted(info.get("groups") or [])


def refused(cluster, observe, groups=("readers",), **token_args):
    review(cluster, cluster.jwt("alice", groups=list(groups), **token_args), observe)
    minted = cluster.server_logs()["issuer_minted"][-1]
    observe.evidence(token={key: minted[key] for key in ("kid", "flaw", "sub", "aud", "iat",
                                                          "exp")})


def test_jwt_wrong_audience_refused(cluster, expected, observe):
    refused(cluster, observe, flaw="wrong-audience")


def test_jwt_expired_refused(cluster, expected, observe):
    refused(cluster, observe, flaw="expired")


def test_jwt_unknown_key_refused(cluster, expected, observe):
    refused(cluster, observe, flaw="unknown-key")


def test_jwt_claim_rule_refused(cluster, expected, observe):
    refused(cluster, observe, claims={"tenant": "another"})


def test_jwt_user_rule_refused(cluster, expected, observe):
    refused(cluster, observe, groups=("readers", "blocked"))


def list_pods(cluster, token, observe):
    client = cluster.with_token(token)
    try:
        response = answered(lambda: client.get(PODS))
    finally:
        client.close()
    observe(path=PODS, status=response.status_code,
            message=cluster.by_name(status_message(response)))
    return response, audited(cluster, observe, response)


def test_jwt_group_bound_allowed(cluster, expected, observe, granted):
    token = cluster.jwt("bob", groups=["pod-readers"])
    with granted("jwt:pod-readers", ["list"], "pods", kind="Group"):
        list_pods(cluster, token, observe)


def test_jwt_group_unbound_forbidden(cluster, expected, observe):
    list_pods(cluster, cluster.jwt("carol", groups=["nobody-binds-this"]), observe)
