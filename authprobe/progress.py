"""Progress lines for long steps: what is being waited for, and for how long.

Lines go to stderr, flushed at once, unless a sink is installed (the pytest plugin
installs one that writes past output capture). ``pump()`` lets the sink deliver lines
that other threads queued; every wait of :mod:`authprobe.wait` calls it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Seconds between "still running" lines of a long step; a wait, and the run of the
# scenarios, say where they are once nothing was said for this long (quiet_for).
HEARTBEAT = 30.0

_sink: Callable[[str], None] | None = None
_pump: Callable[[], None] | None = None
_lock = threading.RLock()  # re-entrant: a signal handler may print while a line is written
_last_said = time.monotonic()  # when the last line was said, by any thread


def set_sink(sink: Callable[[str], None] | None, pump: Callable[[], None] | None = None) -> None:
    """Send progress lines to ``sink``; ``pump`` delivers lines queued by other threads."""
    global _sink, _pump
    _sink, _pump = sink, pump


def say(message: str) -> None:
    global _last_said
    line = f"[authprobe] {message}"
    with _lock:
        _last_said = time.monotonic()
        if _sink is not None:
            _sink(line)
        else:
            print(line, file=sys.stderr, flush=True)


def quiet_for() -> float:
    """Seconds since the last line was said: a run says it is still running once this
    reaches ``HEARTBEAT``, whichever wait or step it is in."""
    return time.monotonic() - _last_said


def pump() -> None:
    """Deliver queued lines now (a no-op outside pytest)."""
    if _pump is not None:
        _pump()


def fmt_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest:02d}s"


@contextmanager
def step(label: str, expect: float | None = None, heartbeat: float = HEARTBEAT) -> Iterator[None]:
    """Announce ``label``, say it is still running every ``heartbeat`` seconds, report its time.

    ``expect`` is the usual duration, shown so a person knows how long to wait.
    """
    start = time.monotonic()
    hint = f" (usually about {fmt_seconds(expect)})" if expect else ""
    say(f"{label}{hint} ...")
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat):
            say(f"{label}: still running, {fmt_seconds(time.monotonic() - start)} elapsed")

    thread = threading.Thread(target=beat, name="authprobe-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        done.set()
        say(f"{label}: failed after {fmt_seconds(time.monotonic() - start)}")
        raise
    done.set()
    say(f"{label}: done in {fmt_seconds(time.monotonic() - start)}")
