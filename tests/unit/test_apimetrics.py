"""kube-apiserver's count of each authorizer's decisions, read from /metrics text."""

from authprobe.harness.apimetrics import (
    AUTHORIZATION_DECISIONS,
    denials_by_authorizer,
    risen,
    samples,
)


def decisions(decision: str, name: str, kind: str, value: int) -> str:
    return (f'{AUTHORIZATION_DECISIONS}{{decision="{decision}",name="{name}",type="{kind}"}} '
            f"{value}\n")


METRICS = ("# HELP apiserver_authorization_decisions_total [ALPHA] Total number of decisions\n"
           "# TYPE apiserver_authorization_decisions_total counter\n"
           + decisions("allowed", "rbac", "RBAC", 41)
           + decisions("denied", "authprobe-webhook", "Webhook", 2)
           + decisions("denied", "authprobe-webhook-strict", "Webhook", 1)
           + 'apiserver_authorization_decisions_total_other{decision="denied",name="x"} 9\n'
           + 'apiserver_authorization_webhook_evaluations_total{name="w",result="error"} 3\n')


def test_samples_of_one_family_with_their_labels():
    found = samples(METRICS, AUTHORIZATION_DECISIONS)
    assert len(found) == 3
    assert found[0] == ({"decision": "allowed", "name": "rbac", "type": "RBAC"}, 41.0)


def test_label_values_with_escapes_and_a_timestamp():
    text = 'm{a="say \\"hi\\"",b="x\\\\y"} 2.5 1700000000000\n'
    assert samples(text, "m") == [({"a": 'say "hi"', "b": "x\\y"}, 2.5)]


def test_the_denials_of_each_authorizer_and_those_that_rose():
    before = denials_by_authorizer(METRICS)
    assert before == {"authprobe-webhook": 2.0, "authprobe-webhook-strict": 1.0}
    after = denials_by_authorizer(METRICS.replace('type="Webhook"} 1', 'type="Webhook"} 2')
                                  + decisions("denied", "node", "Node", 1))
    assert risen(before, after) == ["authprobe-webhook-strict", "node"]
    assert risen(after, after) == []
