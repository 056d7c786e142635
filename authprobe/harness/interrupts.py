"""An interrupt that waits for a cluster's end: Ctrl-C or SIGTERM met while the main thread
ends a cluster (its END stage, its cleanups: ``kind delete``) goes on once that end is done,
so the deletion it met is finished, not abandoned half way.

Signal handlers run in the main thread only; a worker thread's end is never cut by one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0  # how many ends the main thread is inside
_pending: BaseException | None = None  # the interrupt they hold back


def _in_main() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def held() -> Iterator[None]:
    """The body runs to its end through an interrupt, which is raised after it."""
    global _depth, _pending
    if not _in_main():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            interrupt, _pending = _pending, None
            raise interrupt


def deliver(interrupt: BaseException) -> None:
    """From a signal handler: raise ``interrupt`` now, or, in the middle of an end the main
    thread holds, once that end is done."""
    global _pending
    if _depth:  # only the main thread counts its ends
        _pending = _pending or interrupt
        return
    raise interrupt
