"""Progress lines for long steps: what is being waited for, and for how long."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_sink: Callable[[str], None] | None = None
_lock = threading.RLock()  # re-entrant: a signal handler may print while a line is written


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Send progress lines to ``sink`` (the pytest plugin routes them past output capture)."""
    global _sink
    _sink = sink


def say(message: str) -> None:
    line = f"[authprobe] {message}"
    with _lock:
        if _sink is not None:
            _sink(line)
        else:
            print(line, file=sys.stderr, flush=True)


def fmt_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest:02d}s"


@contextmanager
def step(label: str, heartbeat: float = 30.0, expect: float | None = None) -> Iterator[None]:
    """Announce ``label``, repeat a line every ``heartbeat`` seconds while it runs, report its time.

    ``expect`` is the usual duration, shown so a person knows how long to wait.
    """
    start = time.monotonic()
    hint = f" (usually about {fmt_seconds(expect)})" if expect else ""
    say(f"{label}{hint} ...")
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat):
            say(f"{label}: still running, {fmt_seconds(time.monotonic() - start)} elapsed")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        done.set()
        say(f"{label}: failed after {fmt_seconds(time.monotonic() - start)}")
        raise
    else:
        done.set()
        say(f"{label}: done in {fmt_seconds(time.monotonic() - start)}")
