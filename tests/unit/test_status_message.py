"""What a scenario records as an answer's message."""

from __future__ import annotations

import json

import requests

from authprobe.scenario import status_message


def answer(body: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body.encode()
    return response


def test_a_status_gives_its_message():
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": 'pods is forbidden: User "jwt:carol" cannot list resource "pods"'}
    assert status_message(answer(json.dumps(body))) == body["message"]


def test_another_object_gives_its_kind_and_api_version_not_its_metadata():
    first = {"kind": "PodList", "apiVersion": "v1", "items": [],
             "metadata": {"resourceVersion": "1047"}}
    later = {**first, "metadata": {"resourceVersion": "2113"}}
    assert status_message(answer(json.dumps(first))) == "PodList v1"
    assert status_message(answer(json.dumps(later))) == status_message(answer(json.dumps(first)))
    review = {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
              "metadata": {"creationTimestamp": "2026-12-07T02:31:07Z"}, "status": {}}
    assert status_message(answer(json.dumps(review))) == (
        "SelfSubjectReview authentication.k8s.io/v1")


def test_json_that_is_no_object_and_text_are_kept():
    dashboard = {"headerPresent": False, "httpsMode": True}
    assert status_message(answer(json.dumps(dashboard))) == json.dumps(dashboard, sort_keys=True)
    assert status_message(answer("ok\n")) == "ok"
