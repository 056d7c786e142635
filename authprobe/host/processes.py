"""Child processes that an interrupt must stop: each runs in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import AuthprobeError
from ..model.timeouts import waits
from ..wait import until


class StoppedByInterrupt(AuthprobeError):
    """A command the run's interrupt stopped: whatever it exited with, it did not finish."""


class Children:
    """The interruptible processes started by this run, so an interrupt can stop them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: the interrupt's handler may take it
        self._procs: set[subprocess.Popen] = set()  # the interruptible ones
        self._stopped: set[subprocess.Popen] = set()
        self.closed = False

    def add(self, proc: subprocess.Popen, interruptible: bool) -> None:
        """Track ``proc`` if it is interruptible (the others, ``kind delete``, run to their
        end); after ``stop_all`` an interruptible late starter is killed at once."""
        if not interruptible:
            return
        with self._lock:
            self._procs.add(proc)
            late = self.closed
            if late:
                self._stopped.add(proc)
        if late:
            signal_group(proc, signal.SIGKILL)

    def discard(self, proc: subprocess.Popen) -> bool:
        """Stop tracking ``proc``; whether the interrupt stopped it."""
        with self._lock:
            self._procs.discard(proc)
            stopped = proc in self._stopped
            self._stopped.discard(proc)
        return stopped

    def stop_all(self) -> None:
        """SIGTERM to every interruptible process group, then SIGKILL to those that did not
        end in the named ``process_exit`` seconds."""
        grace = waits().process_exit
        with self._lock:
            self.closed = True
            procs = list(self._procs)
            self._stopped.update(procs)
        for proc in procs:
            signal_group(proc, signal.SIGTERM)
        for proc in procs:
            if not _ended(proc, grace):
                signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=grace)


def _ended(proc: subprocess.Popen, seconds: float) -> bool:
    return bool(until(lambda: proc.poll() is not None, timeout=seconds, interval=0.2,
                      what=f"process {proc.pid} to end", quiet=True, give_last=True))


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


CHILDREN = Children()


def run_tracked(argv: list[str], timeout: float, log: Path | None = None,
                should_stop: Callable[[], bool] | None = None, poll: float = 5.0,
                interruptible: bool = False) -> subprocess.CompletedProcess:
    """Run ``argv`` in its own process group, output to ``log`` (appended) or captured.

    ``should_stop`` is asked every ``poll`` seconds; when it answers True the command is
    stopped and the result has return code -15. A timeout kills it (return code -9). An
    ``interruptible`` command is stopped when the run is interrupted, even if it starts after,
    and then raises :class:`StoppedByInterrupt`, whatever it exited with (``docker exec``
    may exit 0 when it is sent SIGTERM); the others (``kind delete``) run on to their result.
    A command whose wait an exception ends (an interrupt raised in this thread) is killed:
    none outlives the run.
    """
    if should_stop is not None and log is None:
        raise ValueError("a command that may be stopped early writes to a log")
    out = log.open("a") if log is not None else subprocess.PIPE
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        stopped = {"code": None}

        def finished() -> bool:
            if proc.poll() is not None:
                return True
            if should_stop is not None and should_stop():
                signal_group(proc, signal.SIGTERM)
                if not _ended(proc, 20):
                    signal_group(proc, signal.SIGKILL)
                proc.wait()
                stopped["code"] = -15
                return True
            return False

        try:
            CHILDREN.add(proc, interruptible)
            if log is None:
                captured, _ = proc.communicate(timeout=timeout)
            else:
                captured = ""
                done = until(finished, timeout=timeout, interval=poll if should_stop else 0.5,
                             what=f"`{' '.join(argv[:3])}`", quiet=True, give_last=True)
                if not done:
                    signal_group(proc, signal.SIGKILL)
                    proc.wait()
                    return subprocess.CompletedProcess(argv, -9, captured or "", "")
        except subprocess.TimeoutExpired:
            signal_group(proc, signal.SIGKILL)
            captured, _ = proc.communicate()
            return subprocess.CompletedProcess(argv, -9, captured or "", "")
        except BaseException:
            signal_group(proc, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            interrupted = CHILDREN.discard(proc)
        if interrupted and interruptible:
            raise StoppedByInterrupt(f"`{' '.join(argv[:6])}` was stopped: the run is being "
                                     "interrupted")
        code = stopped["code"] if stopped["code"] is not None else proc.returncode
        return subprocess.CompletedProcess(argv, code, captured or "", "")
    finally:
        if log is not None:
            out.close()
