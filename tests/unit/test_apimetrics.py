"""kube-apiserver's count of each webhook authorizer's failed round-trips, read from /metrics
text."""

from authprobe.harness.apimetrics import (
    WEBHOOK_EVALUATIONS,
    WEBHOOK_FAIL_OPEN,
    by_name,
    risen,
    samples,
    webhook_failures,
)


def sample(family: str, name: str, result: str, value: int) -> str:
    return f'{family}{{name="{name}",result="{result}"}} {value}\n'


METRICS = ("# HELP apiserver_authorization_webhook_evaluations_total [ALPHA] Round-trips\n"
           "# TYPE apiserver_authorization_webhook_evaluations_total counter\n"
           + sample(WEBHOOK_EVALUATIONS, "authprobe-webhook", "success", 41)
           + sample(WEBHOOK_EVALUATIONS, "authprobe-webhook", "error", 2)
           + sample(WEBHOOK_EVALUATIONS, "authprobe-webhook", "timeout", 1)
           + sample(WEBHOOK_EVALUATIONS, "authprobe-webhook-strict", "success", 3)
           + sample(WEBHOOK_FAIL_OPEN, "authprobe-webhook", "error", 2)
           + sample(WEBHOOK_FAIL_OPEN, "authprobe-webhook", "timeout", 1))


def test_samples_of_one_family_with_their_labels():
    found = samples(METRICS, WEBHOOK_EVALUATIONS)
    assert len(found) == 4
    assert found[0] == ({"name": "authprobe-webhook", "result": "success"}, 41.0)
    assert len(samples(METRICS, WEBHOOK_FAIL_OPEN)) == 2


def test_label_values_with_escapes_and_a_timestamp():
    text = 'm{a="say \\"hi\\"",b="x\\\\y"} 2.5 1700000000000\nm_other{a="x"} 1\n'
    assert samples(text, "m") == [({"a": 'say "hi"', "b": "x\\y"}, 2.5)]


def test_counts_by_name_with_labels_summed():
    assert by_name(METRICS, WEBHOOK_EVALUATIONS, result="error") == {"authprobe-webhook": 2.0}
    assert by_name(METRICS, WEBHOOK_FAIL_OPEN) == {"authprobe-webhook": 3.0}


def test_the_entries_whose_failures_rose():
    before = webhook_failures(METRICS)
    after = webhook_failures(
        METRICS.replace(sample(WEBHOOK_EVALUATIONS, "authprobe-webhook", "error", 2),
                        sample(WEBHOOK_EVALUATIONS, "authprobe-webhook", "error", 3))
        + sample(WEBHOOK_EVALUATIONS, "authprobe-webhook-strict", "error", 1))
    assert risen(before["errors"], after["errors"]) == ["authprobe-webhook",
                                                        "authprobe-webhook-strict"]
    assert risen(before["failed_open"], after["failed_open"]) == []
    assert risen(after["errors"], after["errors"]) == []
