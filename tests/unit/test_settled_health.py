"""A health endpoint that answers 500 listing a failed check (etcd slow on a loaded machine,
seen live on 1.34.12: "[-]etcd failed: reason withheld") is asked again; the failed checks
are kept for the cell's evidence."""

from __future__ import annotations

import requests

from authprobe.scenario import failed_checks, settled_health

ETCD_SLOW = ("[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n"
             "[+]poststarthook/start-apiserver-admission-initializer ok\nhealthz check failed\n")


def answer(status: int, body: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    return response


def test_the_failed_checks_of_a_verbose_answer():
    assert failed_checks(answer(500, ETCD_SLOW)) == ["[-]etcd failed: reason withheld"]
    assert failed_checks(answer(200, "ok")) == []


def test_a_failed_check_is_asked_again_and_kept():
    answers = iter([answer(500, ETCD_SLOW), answer(200, "ok")])
    response, failed = settled_health(lambda: next(answers), within=10)
    assert response.status_code == 200
    assert failed == ["[-]etcd failed: reason withheld"]


def test_a_refusal_is_the_answer_at_once():
    answers = iter([answer(401, '{"kind":"Status","message":"Unauthorized"}')])
    response, failed = settled_health(lambda: next(answers), within=10)
    assert response.status_code == 401 and failed == []


def test_a_check_that_keeps_failing_is_the_answer_at_the_deadline():
    response, failed = settled_health(lambda: answer(500, ETCD_SLOW), within=3)
    assert response.status_code == 500 and len(failed) >= 2
