"""The system:monitoring group and the kubelet's metrics: from 1.34 its role grants `get` on
nodes/metrics (kubernetes#132178), what Prometheus needs to scrape a kubelet. A member asks
the apiserver itself (SelfSubjectAccessReview, as `kubectl auth can-i` does); the audit
record of that request names the member and its groups, and holds the answer. What the
scenario records is judged by its row, field by field (scenarios/observations.yaml)."""

from authprobe.scenario import answered

REVIEW = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def test_monitoring_nodes_metrics(cluster, observe):
    """May a member of system:monitoring get nodes/metrics? No before 1.34, yes from it."""
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "get", "resource": "nodes",
                                            "subresource": "metrics"}}}
    client = cluster.as_user("monitor")
    response = answered(lambda: client.request("POST", REVIEW, json=body))
    status = response.json().get("status") or {}
    observe(status=response.status_code, allowed=status.get("allowed", False),
            message=status.get("reason", ""))
    observe.audit(cluster.audit.record_of(response))
