"""The one way authprobe waits: poll a condition until it holds or a deadline passes.

Every wait in the harness, the scenarios and the tests goes through :func:`until`, so
each one has a deadline, says what it waits for when it gives up, keeps a person
informed while it runs, and lets queued progress lines through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

from .errors import AuthprobeError, error_line
from .progress import HEARTBEAT, fmt_seconds, pump, quiet_for, say

T = TypeVar("T")


class WaitTimeout(AuthprobeError):
    """The condition did not hold before the deadline."""


def until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 1.0,
    retry_on: tuple[type[BaseException], ...] = (),
    state: Callable[[], str] | None = None,
    quiet: bool = False,
    give_last: bool = False,
) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns a truthy value.

    Exceptions of the types in ``retry_on`` count as "not yet"; any other exception
    ends the wait at once. ``state`` describes the last observation for progress lines
    and the timeout message. Once the run has said nothing for ``HEARTBEAT`` seconds, a
    line says what is awaited and for how long (unless ``quiet``). On timeout,
    ``give_last`` returns the last value instead of raising :class:`WaitTimeout`.
    """
    start = time.monotonic()
    last: dict = {}

    def attempt() -> T:
        pump()
        now = time.monotonic()
        if not quiet and quiet_for() >= HEARTBEAT:
            detail = f" ({state()})" if state else ""
            say(f"waiting for {what}: {fmt_seconds(now - start)} of at most "
                f"{fmt_seconds(timeout)}{detail}")
        try:
            value = condition()
        except retry_on as err:
            last["error"] = err
            raise
        last.pop("error", None)
        last["value"] = value
        return value

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(retry_on) | tenacity.retry_if_result(
            lambda value: not value),
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(interval),
        retry_error_callback=lambda retry_state: None,
        sleep=_sleep_pumping,
    )
    result = retrying(attempt)
    if result:
        return result
    if give_last and "value" in last:
        return last["value"]
    detail = state() if state else ""
    if "error" in last:
        detail = detail or error_line(last["error"])
    raise WaitTimeout(f"{what}: not reached after {fmt_seconds(timeout)}"
                      + (f" ({detail})" if detail else ""))


def _sleep_pumping(seconds: float) -> None:
    """Sleep in short slices, delivering progress lines queued by other threads."""
    deadline = time.monotonic() + seconds
    while True:
        pump()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))
