"""Reading kube-apiserver answers, and waiting out an apiserver that is restarting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import requests
import tenacity
import urllib3

T = TypeVar("T")

# Errors that mean "the apiserver is not listening right now", as it is between restarts.
UNREACHABLE = (
    requests.ConnectionError,
    requests.Timeout,
    urllib3.exceptions.HTTPError,
    ConnectionError,
)


def status_message(response: requests.Response) -> str:
    """The ``message`` of a metav1.Status body, else the body text itself."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(body, dict) and body.get("kind") == "Status":
        return str(body.get("message", ""))
    return json.dumps(body, sort_keys=True)


def answered(call: Callable[[], T], within: float = 420.0) -> T:
    """Run ``call``, retrying while the apiserver cannot be reached, for at most ``within`` s.

    A restarting kube-apiserver is down for up to a few minutes (CrashLoopBackOff); an
    answer of any status is returned as it is.
    """
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(UNREACHABLE),
        stop=tenacity.stop_after_delay(within),
        wait=tenacity.wait_exponential(multiplier=1, max=10),
        reraise=True,
    )
    return retrying(call)


def wait_for_status(
    call: Callable[[], requests.Response], status: int, within: float = 120.0
) -> requests.Response:
    """Poll ``call`` until it answers ``status``; return the last response either way."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(UNREACHABLE)
        | tenacity.retry_if_result(lambda r: r.status_code != status),
        stop=tenacity.stop_after_delay(within),
        wait=tenacity.wait_fixed(1),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    return retrying(call)
