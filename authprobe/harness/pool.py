"""Scheduling the clusters of a run: which stage of the lifecycle runs when, in which thread.

Every cell (profile x minor) that has scenarios to run gets one cluster. Bring-ups run in
worker threads as soon as the run starts, at most ``max_alive`` clusters at a time (what
the host holds, :mod:`authprobe.host.capacity`), handed out strictly in the order the
scenarios need them. Node images are prepared once per minor. In an upgrade run a cell of
the second minor gets no cluster of its own: when the scenarios of the first minor are done
with a cluster, its upgrade stage runs in a worker thread, and the same cluster, upgraded,
serves the second minor's cell: the same record (:mod:`.state`) moved on. The steps and
their order are :mod:`.lifecycle`; whatever a step does, a cluster whose stage stops goes to
its END stage, and an interrupt ends every cluster by the same cleanups.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace

from ..errors import AuthprobeError
from ..host.processes import CHILDREN
from ..model.cell import Cell
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion, SupportedVersion, version_table
from ..progress import pump, say
from . import images, interrupts, naming, steps
from .handle import ClusterHandle
from .images import ImageFacts, Target
from .lifecycle import BRING_UP, END, RELEASE, UPGRADE, Step, lifecycle
from .phases import Stopped, failure_line, run_stage
from .render import RenderInput, render
from .state import ClusterState, IllegalMove, State
from .upgrade import upgraded_run

# Polling intervals, not limits: a wait for a bring-up delivers progress lines this often,
# and a cell waiting for a slot looks again this often (besides being notified).
PUMP_INTERVAL = 0.5
SLOT_INTERVAL = 1.0


class Unavailable(AuthprobeError):
    """A cell's cluster cannot be had (its image failed, or it did not come up)."""


@dataclass(frozen=True)
class Upgrade:
    """An upgrade run: the clusters of the first minor are upgraded in place to ``target``."""

    target: SupportedVersion
    version: KubeVersion  # the patch they are upgraded to
    source: str  # where its artifacts come from: build (offline) or published


class ClusterPool:
    def __init__(self, env: steps.Env, targets: dict[str, Target],
                 profiles: dict[str, dict[str, ProfileAt]], expects_down, run_token: str,
                 checkout: str, reuse: bool, keep: bool, max_alive: int,
                 max_workers: int = 4, added_steps: list[Step] | None = None,
                 upgrade: Upgrade | None = None) -> None:
        self.env = env
        self.steps = lifecycle(added_steps)
        self.upgrade = upgrade
        self.targets = targets
        self.profiles = profiles  # minor -> profile id -> ProfileAt
        self.expects_down = expects_down
        self.run_token = run_token
        self.checkout = checkout
        self.reuse, self.keep = reuse, keep
        self.max_alive, self.max_workers = max_alive, max_workers
        self._lock = threading.RLock()  # re-entrant: the interrupt's handler may take it
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[Cell, Future] = {}
        self._runs: dict[Cell, ClusterState] = {}
        self._released: set[Cell] = set()
        self._image_locks: dict[str, threading.Lock] = {}
        self._images: dict[str, ImageFacts | AuthprobeError] = {}
        self._image_done: dict[str, threading.Event] = {m: threading.Event() for m in targets}
        self._slot = threading.Condition()
        self._order: list[Cell] = []
        self._served: set[Cell] = set()
        self._holding: set[Cell] = set()
        self.aborting = threading.Event()
        self.closing = threading.Event()
        if env is not None:
            env.aborting, env.reuse = self.aborting.is_set, reuse

    # -- planning and waiting ------------------------------------------------------------

    def start(self, cells: list[Cell]) -> None:
        """Begin bringing up every cell's cluster, in this order, in worker threads (a cell
        an upgrade reaches comes up when its first minor's scenarios are done)."""
        cells = [c for c in dict.fromkeys(cells)
                 if c not in self._futures and c.upgraded_from is None]
        if not cells:
            return
        if self._executor is None:
            workers = max(1, min(self.max_workers, len(cells)))
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="authprobe-cluster")
        if len(cells) > 1:
            say(f"bringing up {len(cells)} clusters, {min(len(cells), self.max_alive)} at a "
                "time: " + ", ".join(c.id for c in cells))
        with self._slot:
            self._order.extend(cells)
        for cell in cells:
            self._futures[cell] = self._executor.submit(self._bring_up, cell)

    def _wait(self, future: Future):
        while True:
            try:
                return future.result(timeout=PUMP_INTERVAL)
            except FutureTimeout:
                pump()

    def image(self, minor: str) -> ImageFacts:
        """The prepared image of ``minor``, waiting for it; Unavailable if it failed."""
        done = self._image_done[minor]
        while not done.wait(0.5):
            pump()
        found = self._images[minor]
        if isinstance(found, AuthprobeError):
            raise Unavailable(found.one_line())
        return found

    def get(self, cell: Cell) -> ClusterHandle:
        """The cluster of ``cell`` as the scenarios see it, waiting for it to come up, or to
        fail to come up on a node that runs its profile (the scenarios judge that);
        Unavailable with the line that errors its cells otherwise."""
        if cell.upgraded_from is not None and cell not in self._futures:
            self._upgrade_now(cell)
        if cell not in self._futures:
            self.start([cell])
        try:
            run = self._wait(self._futures[cell])
        except Exception as err:
            raise Unavailable(failure_line(err)) from None
        if run.error is not None:
            raise Unavailable(run.error)
        return run.handle

    # -- bringing one cluster up ---------------------------------------------------------

    def _prepare_image(self, minor: str) -> ImageFacts:
        with self._lock:
            lock = self._image_locks.setdefault(minor, threading.Lock())
        with lock:
            if minor not in self._images:
                target = self.targets[minor]
                try:
                    facts = images.prepare(target.choice, target.supported)
                    if self.upgrade is not None:
                        facts = images.prepare_upgrade(facts, target.choice,
                                                       self.upgrade.target, self.upgrade.source)
                    self._images[minor] = facts
                    if steps.dashboard.image_for(facts.dashboard_image, self.env.dashboard_pull
                                                 or target.choice.source == "published") is None:
                        say(f"Kubernetes {minor}: {steps.no_dashboard(facts.ref)}; the "
                            "scenarios that need the Dashboard are skipped")
                except Exception as err:  # any failure is the image's, said in one line
                    self._images[minor] = (err if isinstance(err, AuthprobeError) else
                                           AuthprobeError(f"node image for Kubernetes {minor}: "
                                                          f"{failure_line(err)}"))
                finally:  # the cells waiting for this image go on, whatever happened
                    self._image_done[minor].set()
        found = self._images[minor]
        if isinstance(found, AuthprobeError):
            raise found
        return found

    def _take_slot(self, cell: Cell) -> None:
        """Wait until fewer than ``max_alive`` clusters run and every earlier cell had its
        turn, so the cell the scenarios wait for is never starved by later ones."""
        with self._slot:
            mine = self._order.index(cell)
            while True:
                if self.aborting.is_set() or self.closing.is_set():
                    self._served.add(cell)
                    self._slot.notify_all()
                    raise AuthprobeError("the run ended before this cluster was needed")
                if (len(self._holding) < self.max_alive
                        and all(c in self._served for c in self._order[:mine])):
                    break
                self._slot.wait(timeout=SLOT_INTERVAL)
            self._holding.add(cell)
            self._served.add(cell)
            self._slot.notify_all()

    def _give_slot(self, cell: Cell) -> None:
        with self._slot:
            self._holding.discard(cell)
            self._slot.notify_all()

    def _bring_up(self, cell: Cell) -> ClusterState:
        target = self.targets[cell.minor]
        image = self._prepare_image(cell.minor)
        self._take_slot(cell)
        try:
            run = self._bring_up_in_slot(cell, target, image)
        except BaseException:
            self._give_slot(cell)
            raise
        if run.state is not State.UP:
            self._give_slot(cell)  # it has ended (its control plane is down, or it broke)
        return run

    def _name_and_lease(self, cell: Cell, config_hash: str) -> tuple[str, naming.Lease | None]:
        # A cluster whose profile runs servers is never reused: its files name the servers
        # of the run that made it, gone with that run.
        servers = self.profiles[cell.minor][cell.profile].runs_servers
        if self.reuse and not servers:
            scope = hashlib.sha256(f"{config_hash}\0{self.checkout}".encode()).hexdigest()
            name = naming.cluster_name(cell.profile, cell.minor, "r" + scope[:7])
            lease = naming.take_lease(name, self.run_token, self.checkout)
            if lease is not None:
                return name, lease
            say(f"{name} is in use by another run ({naming.owner_of(name).get('run', '?')}): "
                "this run makes a cluster of its own")
        name = naming.cluster_name(cell.profile, cell.minor, self.run_token)
        return name, naming.take_lease(name, self.run_token, self.checkout)

    def _facts(self, version: KubeVersion):
        """The version facts the cluster is made with. A cluster to be upgraded gets the
        kubelet setting the next minor needs on a cgroup v1 host already (its kubelet
        configuration survives the upgrade; the new kubelet refuses to start without it)."""
        facts = version_table().facts_for(version)
        if self.upgrade is None:
            return facts
        then = version_table().facts_for(self.upgrade.version)
        return replace(facts, kubelet_fail_cgroup_v1=facts.kubelet_fail_cgroup_v1
                       or then.kubelet_fail_cgroup_v1)

    def _bring_up_in_slot(self, cell: Cell, target: Target, image: ImageFacts
                          ) -> ClusterState:
        env = self.env
        profile = self.profiles[cell.minor][cell.profile]
        version = target.choice.version
        inp = RenderInput(profile, version, self._facts(version), image.ref,
                          env.kind_version, env.host, default_cni=image.default_cni,
                          image_id=image.image_id, audit=env.audit)
        config_hash = render(inp).config_hash
        name, lease = self._name_and_lease(cell, config_hash)
        try:
            rendered = render(inp, str(naming.private_dir(name).resolve()))
            run = steps.new_run(env, name, profile, version, image, target.choice.source,
                                rendered, self.expects_down(profile.id, version), lease)
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        run.handle = ClusterHandle(run)
        with self._lock:
            self._runs[cell] = run
        run.to(State.BRINGING_UP)
        try:
            token_file = run.directory / "auth" / "tokens.csv"
            if self.reuse and run.provider.exists() and token_file.exists():
                run.reused = True
                run.on_end("keep the reused cluster", lambda: steps.keep_reused(run))
                say(f"{name}: reusing the running cluster ({profile.id}, Kubernetes {version})")
            elif run.provider.exists():
                say(f"{name}: removing a cluster of the same name left by an earlier run")
                run.provider.destroy(timeout=steps.limit(run, "teardown"))
        except Exception as err:
            run.failed(f"cluster {name} ({profile.id}, Kubernetes {version}): "
                       f"{failure_line(err)}")
            self._end(run)
            return run
        self._stage(run, BRING_UP)
        return run

    def _stage(self, run: ClusterState, stage: str) -> None:
        """Run one stage of ``run``'s lifecycle: a cluster whose stage ran to its end is up;
        one whose stage stopped (a step failed, or said the predicted failure) ends, as does
        every cluster of an interrupted run."""
        try:
            stopped = run_stage(self.env, run, stage, self.steps)
        except BaseException:  # an interrupt: the cluster ends, then the interrupt goes on
            self._end(run)
            raise
        if stopped is None and not self.aborting.is_set():
            try:
                run.to(State.UP)
                return
            except IllegalMove:  # ended by an interrupt meanwhile
                pass
        if stopped is not None and stopped.failed:
            run.failed(self._error_line(run, stopped))
        self._end(run)

    @staticmethod
    def _error_line(run: ClusterState, stopped: Stopped) -> str:
        """The line that errors the cells of a cluster whose step failed."""
        logs = f" (logs: {run.logs_dir})" if run.logs_dir else ""
        return (f"cluster {run.name} ({run.profile.id}, Kubernetes {run.version}): step "
                f"'{stopped.step}' failed: {stopped.message}{logs}")

    # -- upgrading a cluster in place ----------------------------------------------------

    def _before(self, cell: Cell) -> Cell:
        return Cell(cell.profile, cell.upgraded_from)

    def _after(self, cell: Cell) -> Cell | None:
        if self.upgrade is None or cell.upgraded_from is not None:
            return None
        return Cell(cell.profile, self.upgrade.target.minor, upgraded_from=cell.minor)

    def _upgrade_now(self, cell: Cell) -> None:
        """A cell an upgrade reaches, asked for before its first minor's cell was released
        (no scenario of the first minor was selected): bring that up and release it now."""
        before = self._before(cell)
        try:
            self.get(before)
        except Unavailable as err:
            raise Unavailable(f"its cluster on Kubernetes {before.minor} is not available: "
                              f"{err.one_line()}") from None
        self.release(before)
        if cell not in self._futures:
            raise Unavailable(f"the cluster of {before.id} was not upgraded: the run is ending")

    def _start_upgrade(self, before_cell: Cell, run: ClusterState) -> bool:
        """Hand the cluster of ``before_cell`` on to the upgrade (in a worker thread); False
        when there is nothing to upgrade to, or the run is ending."""
        after = self._after(before_cell)
        if after is None or self.closing.is_set() or self.aborting.is_set():
            return False
        profile = self.profiles[after.minor][after.profile]
        upgraded_run(self.env, run, self.upgrade.version, profile)
        with self._slot:
            self._holding.discard(before_cell)
            self._holding.add(after)
        with self._lock:
            self._runs[after] = run
        self._futures[after] = self._executor.submit(self._upgrade, run)
        return True

    def _upgrade(self, run: ClusterState) -> ClusterState:
        self._stage(run, UPGRADE)
        return run

    # -- ending clusters -----------------------------------------------------------------

    def _end(self, run: ClusterState) -> None:
        """A cluster this run is done with: its END stage (delete it unless it is kept);
        whatever a step of that stage does, its cleanups run. An interrupt met in the main
        thread goes on once they are done (:mod:`.interrupts`)."""
        with interrupts.held():
            try:
                stopped = run_stage(self.env, run, END, self.steps)
                if stopped is not None:
                    say(f"{run.name}: step '{stopped.step}' of its end failed: "
                        f"{stopped.message}")
            finally:
                run.end()

    def release(self, cell: Cell, export_logs: bool = False) -> None:
        """The scenarios of ``cell`` are done: collect the evidence, then end its cluster (or,
        in an upgrade run, upgrade it for the second minor's scenarios)."""
        with self._lock:
            run = self._runs.get(cell)
            if run is None or cell in self._released:
                return
            self._released.add(cell)
        handed_on = False
        try:
            if run.state is State.UP:
                run.to(State.RELEASED)
                run.found.export_logs = export_logs
                stopped = run_stage(self.env, run, RELEASE, self.steps)
                if stopped is not None:
                    say(f"{run.name}: evidence could not be collected: {stopped.message}")
                if run.found.restarts is not None:
                    run.found.restarts.stop()
                handed_on = self._start_upgrade(cell, run)
                if not handed_on:
                    self._end(run)
        finally:
            if not handed_on:
                self._give_slot(cell)

    def finish(self) -> None:
        """End of session: wait for bring-ups and upgrades still running, then release every
        cluster (an interrupt met on the way goes on once all are released)."""
        self.closing.set()
        done: set[Cell] = set()
        interrupted: BaseException | None = None
        while len(done) < len(self._futures):
            for cell, future in list(self._futures.items()):
                if cell in done:
                    continue
                done.add(cell)
                try:
                    future.result()
                except Exception:
                    pass  # the cell's items said it; its cluster has ended
                except BaseException as err:
                    interrupted = interrupted or err
                self.release(cell)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if interrupted is not None:
            raise interrupted

    def abort(self) -> list[str]:
        """Interrupt: stop kind children and end every cluster of the run by its cleanups
        (the same ones its END stage runs; a cluster this run created is deleted even when it
        would be kept). The names of the clusters the interrupt met and deleted, also those a
        worker thread was deleting then (this waits for them); not those whose cleanups the
        calling thread was running when the signal came (:meth:`ending_here`)."""
        self.aborting.set()
        CHILDREN.stop_all()
        deleted = []
        for run in self._not_ended():
            if not run.ending_here() and steps.DELETED in run.end():
                deleted.append(run.name)
        return deleted

    def ending_here(self) -> list[str]:
        """The clusters whose cleanups the calling thread is in the middle of: a signal
        handler's own thread, whose end goes on once the handler returns."""
        return [run.name for run in self._not_ended() if run.ending_here()]

    def _not_ended(self) -> list[ClusterState]:
        with self._lock:
            return [run for run in dict.fromkeys(self._runs.values())  # one record per cluster
                    if not run.ended]
