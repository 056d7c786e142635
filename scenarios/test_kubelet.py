"""The kubelet's own door, port 10250, reached from outside the node: kubeadm turns the
kubelet's anonymous authentication off (401 to a request with no credentials) and has it ask
the apiserver whether a user may reach a node subresource (SubjectAccessReview, 403 unless
RBAC allows). The record behind each answer is the apiserver's audit of the reviews the
kubelet asked for; the kubelet logs no decision at the verbosity the clusters run it."""

import json

import pytest

from authprobe.harness.kubelet import KubeletAnswer
from authprobe.model.timeouts import waits
from authprobe.scenario import wait_for_status
from authprobe.wait import until

PODS = "/pods"
HEALTHZ = "/healthz"


def kubelet_message(response) -> str:
    """The kubelet's answer in one line: a JSON answer's kind, else its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(body, dict) and body.get("kind"):
        return str(body["kind"])
    return json.dumps(body, sort_keys=True)[:200]


def kubelet_get(cluster, user, path) -> KubeletAnswer:
    """GET ``path`` on the kubelet as ``user`` (None: no credentials) while the apiserver
    answers; asked again when the kubelet logged that it could not reach its webhooks."""
    client = cluster.kubelet_as(user)
    last = {}

    def attempt():
        wait_for_status(lambda: cluster.admin.get("/readyz"), 200, within=waits().apiserver_back)
        answer = cluster.kubelet.get(client, path)
        code = answer.response.status_code
        if code == 500 or (code == 401 and client.has_token):
            last["errors"] = cluster.kubelet.webhook_errors(answer.sent)
            if last["errors"]:
                return None
        return answer

    return until(attempt, timeout=waits().kubelet_answer, interval=5.0,
                 what=f"an answer from the kubelet of {cluster.name} with its webhooks up",
                 state=lambda: "; ".join(last.get("errors", [])[-1:]) or "no answer")


def observed(answer: KubeletAnswer, user, path, observe):
    """Record the answer and the reviews behind it; returns the reviews about ``user``."""
    response = answer.response
    asked = answer.asked_about(user or "system:anonymous")
    allowed = [r for r in asked if r.allowed]
    observe(path=path, status=response.status_code, message=kubelet_message(response),
            audit_user=asked[-1].user if asked else None,
            authz_subresource=allowed[-1].subresource if allowed else None)
    observe.evidence(kubelet_reviews=[r.to_dict() for r in answer.reviews],
                     kubelet_reviews_held=[r.to_dict() for r in asked if r.held])
    return asked


def check(answer: KubeletAnswer, asked) -> None:
    """The audited reviews agree with the answer: a review allowed it exactly when the
    kubelet let the request in. (What was recorded, the answer, the reviews' user and the
    subresource that let it in, is judged by the row, field by field. The kubelet asks again
    only for what it does not hold: a denial 30 s, an allow 5 min. So which denied
    subresources show up as reviews of this request is not compared.)"""
    reviews = [r.to_dict() for r in answer.reviews] + [r.to_dict() for r in asked if r.held]
    allowed = [r for r in asked if r.allowed]
    assert bool(allowed) == (answer.response.status_code == 200), reviews


def test_kubelet_anonymous_pods(cluster, observe):
    """No credentials on the kubelet's /pods: 401 with the kubelet's anonymous
    authentication off (kubeadm's setting), and it asks the apiserver nothing; with it on,
    the kubelet asks whether system:anonymous may get the node's proxy subresource
    (from 1.33 first its pods subresource) and answers 403."""
    answer = kubelet_get(cluster, None, PODS)
    check(answer, observed(answer, None, PODS, observe))
    if answer.response.status_code == 401:
        assert answer.reviews == [], "the kubelet asked the apiserver about a request it refused"


def test_kubelet_anonymous_healthz(cluster, observe):
    """No credentials on the kubelet's /healthz (its secure port's, not the local 10248
    one): refused as /pods is, the subresource asked about being healthz from 1.33."""
    answer = kubelet_get(cluster, None, HEALTHZ)
    check(answer, observed(answer, None, HEALTHZ, observe))
    if answer.response.status_code == 401:
        assert answer.reviews == [], "the kubelet asked the apiserver about a request it refused"


def test_kubelet_admin_before_binding(cluster, observe):
    """User admin's static token on the kubelet's /pods: the kubelet authenticates it
    (TokenReview) and RBAC, asked by SubjectAccessReview, denies it: 403."""
    answer = kubelet_get(cluster, "admin", PODS)
    check(answer, observed(answer, "admin", PODS, observe))


# Late, so the kubelet has forgotten the denial of kubelet_admin_before_binding (it keeps
# one 30 s) and answers at once.
@pytest.mark.runs_last
def test_kubelet_admin_after_binding(cluster, observe, cluster_admin_binding):
    """With the cluster-admin binding user admin reads the kubelet's /pods (a PodList)."""
    last = {}

    def let_in() -> bool:
        last["answer"] = kubelet_get(cluster, "admin", PODS)
        return last["answer"].response.status_code == 200

    with cluster_admin_binding():
        # The kubelet keeps a denial for 30 s (its cacheUnauthorizedTTL): ask until it asks
        # the apiserver again.
        until(let_in, timeout=waits().kubelet_cache, interval=3.0, give_last=True, quiet=True,
              what="the kubelet to let admin in after the binding")
    answer = last["answer"]
    check(answer, observed(answer, "admin", PODS, observe))


def test_kubelet_healthz_fine_grained(cluster, observe, granted):
    """A user bound to a role with only get on nodes/healthz, on the kubelet's /healthz:
    fine-grained kubelet authorization (KEP-2862, on by default from 1.33) lets it in; before
    it, the kubelet asks for nodes/proxy and answers 403."""
    with granted("healthz-reader", ["get"], "nodes/healthz"):
        answer = kubelet_get(cluster, "healthz-reader", HEALTHZ)
    check(answer, observed(answer, "healthz-reader", HEALTHZ, observe))
