"""One cluster of a run as one record: where it is in its lifecycle (:class:`State`), what
the steps found of it at its current version (:class:`Found`), and what must be undone when
it ends (its cleanups, run last-in-first-out, once, by the END stage or by an interrupt).

The steps move the record along (``fn(env, run)``, see :mod:`.steps`); the scenarios see it
through a read-only view (:class:`.handle.ClusterHandle`). An upgrade moves the same record
on to the next minor: it keeps its name, node, tokens and cleanups and starts a fresh
``found`` at the new version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import AuthprobeError
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion
from ..progress import say
from .access import HttpClient, NodeAccess
from .audit import AuditLog
from .images import ImageFacts
from .kubelet import KubeletDoor
from .phases import failure_line
from .provider import Provider
from .readiness import StartFailure
from .render import Rendered
from .sampler import RestartSampler


class State(Enum):
    """Where a cluster is in its lifecycle."""

    PLANNED = "planned"  # named; nothing made yet
    BRINGING_UP = "bringing up"  # the bring-up stage runs
    UP = "up"  # serves the scenarios
    # Its control plane did not come up on a node that runs the profile as rendered: the
    # scenarios judge that (a pass where the expectations predict it, a fail elsewhere).
    DOWN = "down"
    BROKEN = "broken"  # a step failed in a way no expectation predicts: its cells error
    RELEASED = "released"  # the scenarios are done with it; evidence is collected
    UPGRADING = "upgrading"  # the upgrade stage runs, at the next minor
    ENDED = "ended"  # its cleanups ran: deleted (or kept), lease released


# The moves a record may make; ENDED is reachable from every state (the END stage, or an
# interrupt) and leads nowhere.
MOVES: dict[State, frozenset[State]] = {
    State.PLANNED: frozenset({State.BRINGING_UP, State.BROKEN}),
    State.BRINGING_UP: frozenset({State.UP, State.DOWN, State.BROKEN}),
    State.UP: frozenset({State.RELEASED}),
    State.RELEASED: frozenset({State.UPGRADING}),
    State.UPGRADING: frozenset({State.UP, State.BROKEN}),
    State.DOWN: frozenset(),
    State.BROKEN: frozenset(),
    State.ENDED: frozenset(),
}


class IllegalMove(AuthprobeError):
    """A move the lifecycle does not have (a fault of the harness or of a team's step)."""


Cleanup = Callable[[], "str | None"]


@dataclass
class Found:
    """What the steps found of the cluster at its current version; an upgrade starts a
    fresh one."""

    since: float | None = None  # epoch seconds this version's record starts at (an upgrade's)
    server: str | None = None
    ca_path: Path | None = None
    anonymous: HttpClient | None = None
    admin: HttpClient | None = None
    api: Any = None  # kubernetes.client.ApiClient as cluster-admin
    audit: AuditLog | None = None
    kubelet: KubeletDoor | None = None
    restarts: RestartSampler | None = None
    probe_spec: dict = field(default_factory=dict)
    probe_budget: float | None = None
    window: float | None = None
    start_failure: StartFailure | None = None
    # After an upgrade in place: from, to, seconds, kubeadm's line, the apiserver's kubelet
    # client certificate before and after, kubectl logs and exec right after.
    upgrade: dict | None = None
    # What of the profile the upgrade did not keep (the verification's differences).
    profile_differences: list[str] = field(default_factory=list)
    logs_dir: Path | None = None
    export_logs: bool = False  # a scenario failed: the node's logs go with the evidence


@dataclass(eq=False)
class ClusterState:
    """One cluster of the run, from its name to its end."""

    name: str
    profile: ProfileAt
    version: KubeVersion
    image: ImageFacts
    image_source: str
    kind_version: str
    rendered: Rendered
    provider: Provider
    node: NodeAccess
    expected_down: bool  # the expectations say its control plane does not come up
    reused: bool = False  # a running cluster kept by an earlier run (not made by this one)
    upgraded_from: KubeVersion | None = None
    state: State = State.PLANNED
    found: Found = field(default_factory=Found)
    error: str | None = None  # why its cells cannot run (BROKEN)
    failure: str | None = None  # the line of the last step that failed (for its evidence)
    # The kube-apiserver container the restart window of this version starts with (pod UID,
    # attempt, epoch seconds of its creation): after an upgrade, the one that runs once the
    # kubelet's restart settled; None: the pod's first container.
    window_from: tuple[str, int, float] | None = None
    token: str | None = field(default=None, repr=False)  # admin's
    tokens: dict[str, str] = field(default_factory=dict, repr=False)  # every token user's
    dashboard_image: str | None = None
    dashboard_missing: str | None = None  # why no Dashboard was deployed
    handle: Any = field(default=None, repr=False)  # the scenarios' read-only view
    servers: Any = field(default=None, repr=False)  # its issuer and webhook (.servers)
    _cleanups: list[tuple[str, Cleanup]] = field(default_factory=list, repr=False)
    _said: list[str] = field(default_factory=list, repr=False)  # what the cleanups said
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ending: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ender: threading.Thread | None = field(default=None, repr=False)  # running the cleanups
    _ended: bool = field(default=False, repr=False)  # every cleanup has run

    @property
    def label(self) -> str:
        """The cluster's name in the report: its kind name, and after an upgrade the version
        it was upgraded to (the same cluster before and after are two records there)."""
        return f"{self.name}@{self.version}" if self.upgraded_from else self.name

    @property
    def directory(self) -> Path:
        return self.provider.directory

    @property
    def logs_dir(self) -> Path | None:
        return self.found.logs_dir

    @property
    def up(self) -> bool:
        return self.state is State.UP

    # -- moving along ----------------------------------------------------------------------

    def to(self, state: State) -> None:
        """Move to ``state``; IllegalMove for a move the lifecycle does not have."""
        with self._lock:
            if state is not State.ENDED and state not in MOVES[self.state]:
                raise IllegalMove(f"cluster {self.name}: no move from {self.state.value} to "
                                  f"{state.value}")
            self.state = state

    def failed(self, line: str) -> None:
        """A step failed in a way no expectation predicts: the cells error with ``line``
        (BROKEN); a control plane that is down on a node running the profile stays DOWN
        (the scenarios judge it), and a record already ended stays so."""
        with self._lock:
            if self.state in (State.DOWN, State.ENDED, State.BROKEN):
                return
            self.error = line
            self.to(State.BROKEN)

    def upgraded(self, version: KubeVersion, profile: ProfileAt) -> None:
        """Move on to the upgrade to ``version``, whose scenarios judge it by ``profile``."""
        with self._lock:
            self.to(State.UPGRADING)
            self.upgraded_from, self.version, self.profile = self.version, version, profile
            self.expected_down, self.failure, self.window_from = False, None, None
            self.found = Found(since=time.time())

    # -- cleanups --------------------------------------------------------------------------

    def on_end(self, name: str, cleanup: Cleanup) -> None:
        """Register what undoes something just acquired; it runs when the cluster ends (at
        once when it has ended already), last registered first. It may return a line for
        the teardown's phase."""
        with self._lock:
            if self.state is not State.ENDED:
                self._cleanups.append((name, cleanup))
                return
        self._run_cleanups([(name, cleanup)])

    def end(self) -> list[str]:
        """Run the cleanups, last first, each once, and move to ENDED; the lines they
        returned. A cleanup that fails is said, and the others still run. Called while
        another thread ends the cluster (the END stage meeting an interrupt), it waits until
        those cleanups are done."""
        with self._ending:
            with self._lock:
                outer = self._ender is None  # not called again by the thread ending it
                if outer:
                    self._ender = threading.current_thread()
                pending, self._cleanups = self._cleanups[::-1], []
                self.to(State.ENDED)
            try:
                self._said.extend(self._run_cleanups(pending))
            finally:
                said = list(self._said)
                if outer:
                    self._ender, self._ended = None, True
        return said

    @property
    def ended(self) -> bool:
        """Every cleanup has run (the state moves to ENDED as they begin)."""
        return self._ended

    def ending_here(self) -> bool:
        """Whether the calling thread is in the middle of this cluster's cleanups (a signal
        handler that interrupted them cannot wait for them: they go on after it)."""
        return self._ender is threading.current_thread()

    def _run_cleanups(self, pending: list[tuple[str, Cleanup]]) -> list[str]:
        said: list[str] = []
        stopped: BaseException | None = None
        for name, cleanup in pending:
            try:
                line = cleanup()
            except Exception as err:
                say(f"{self.name}: cleanup ({name}) failed: {failure_line(err)}")
                continue
            except BaseException as err:  # an interrupt: the other cleanups still run
                stopped = stopped or err
                continue
            if line:
                said.append(line)
        if stopped is not None:
            raise stopped
        return said

