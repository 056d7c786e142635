"""The harness's pytest hooks for one run: parametrize, plan, bring clusters up, record
every cell, clean up (also on Ctrl-C and SIGTERM), and hand the run log to the reports."""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from ..errors import AuthprobeError, NotRunnable
from ..harness import interrupts
from ..host import docker
from ..host.capacity import host_capacity
from ..model import timeouts
from ..model.cell import Cell
from ..model.outcome import ERROR, FAIL, NOT_JUDGED, RunLog
from ..model.versions import KubeVersion, resolve
from ..progress import HEARTBEAT, quiet_for, say
from ..report.plugin import Reporter
from . import cells as _cells
from . import planning, terminal
from .options import Selection, given, resolve_selection

# "off" runs kube-apiserver without its audit log: only to measure what the log costs
# (benchmarks/bench.py); the scenarios that assert audit records then error.
AUDIT_ENV = "AUTHPROBE_AUDIT_LOG"
PLAN = pytest.StashKey[_cells.ItemPlan]()
STATE = pytest.StashKey[_cells.ItemState]()
HARNESS = pytest.StashKey["Harness"]()
XDIST_REFUSAL = ("authprobe shares one cluster per profile and version between scenarios and "
                 "brings the clusters up in parallel itself: run it without pytest-xdist's -n")
XDIST_REFUSED = "authprobe_refused"  # key of an xdist worker's workeroutput


def other_flags(sel: Selection, versions) -> dict[str, set[str]]:
    """Every kube-apiserver flag some known profile sets, with the values it gives it."""
    found: dict[str, set[str]] = {}
    for profile in sel.all_profiles.values():
        for version in versions.values():
            applied = profile.at(version)
            if not applied.na:
                for flag, value in {**applied.extra_args, **applied.hand_edited_args}.items():
                    found.setdefault(flag, set()).add(value)
    return found


def host_cgroup_version() -> int:
    from ..host.docker import docker

    text = docker("info", "--format", "{{.CgroupVersion}}",
                  timeout=timeouts.calls().host_query).stdout.strip()
    if text in ("1", "2"):
        return int(text)
    return 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1


class Terminated(KeyboardInterrupt):
    """The run was sent SIGTERM (a CI job cancelled or timed out): it ends as Ctrl-C ends it,
    through every handler an interrupt passes, and exits 143, as a shell reports a process
    SIGTERM ended. (pytest's own Exit is an Exception, which the handlers of a step's or a
    cluster's failure would take for one.)"""


class Harness:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run_token = secrets.token_hex(3)
        self.runlog = RunLog()
        self.reporter = Reporter(config, self.runlog)
        self._selection: Selection | None = None
        self._selection_error: AuthprobeError | None = None
        self.pool = None  # the ClusterPool, once planning found cells to run
        self.upgrade = None  # the pool's Upgrade in a run with --upgrade-to
        self.added_steps: list = []  # lifecycle steps the run's plugins add
        self.targets: dict = {}
        self.registry = False
        self.cells: list[Cell] = []
        self.said: set[str] = set()
        self.failed_cells: set[Cell] = set()
        self.remaining: Counter[Cell] = Counter()  # items of each cell still to run
        self.tests_done = 0  # tests whose teardown has ended
        self.tests_collected = 0
        self._previous_handlers: dict = {}
        self._terminated = False  # SIGTERM ended the run
        self._timeouts_before: timeouts.Table | None = None  # restored when the run ends
        if given(config):
            try:
                self.selection()
            except AuthprobeError as err:
                raise pytest.UsageError(err.one_line()) from None

    def selection(self) -> Selection:
        if self._selection is None and self._selection_error is None:
            try:
                self._selection = resolve_selection(self.config)
            except AuthprobeError as err:
                self._selection_error = err
        if self._selection_error is not None:
            raise self._selection_error
        return self._selection

    # -- collection ------------------------------------------------------------------------

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        """A module of scenarios that run only after an upgrade is not collected in a run
        that upgrades nothing."""
        if not planning.upgrade_only_module(collection_path):
            return None
        try:
            upgrading = bool(self.selection().upgrade_to)
        except AuthprobeError:
            upgrading = False
        return None if upgrading else True

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if planning.CELL_FIXTURE not in metafunc.fixturenames:
            return
        try:
            sel = self.selection()
            cells = [Cell(p, m) for p in sel.profiles for m in sel.minors]
            if sel.upgrade_to:
                cells += [Cell(p, sel.upgrade_to, upgraded_from=sel.minors[0])
                          for p in sel.profiles]
            if metafunc.definition.get_closest_marker(planning.AFTER_UPGRADE_MARKER):
                cells = [c for c in cells if c.upgraded_from]
        except AuthprobeError:
            cells = []  # reported once, as a usage error, after collection
        metafunc.parametrize(planning.CELL_FIXTURE, cells, ids=[c.id for c in cells],
                             indirect=True, scope="session")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        scenario_items = [i for i in items if planning.cell_of(i) is not None]
        if not scenario_items and self._selection_error is None:
            return
        try:
            ordered = iter(self._plan(config, scenario_items))
        except AuthprobeError as err:
            raise pytest.UsageError(err.one_line()) from None
        items[:] = [next(ordered) if planning.cell_of(i) is not None else i for i in items]

    def _plan(self, config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
        """Plan the scenario items; returns them in the order to run them."""
        from ..harness import images
        from ..host import engine

        if hasattr(config, "workerinput"):
            # An xdist worker: its error is not shown; the controller says it (testnodedown).
            config.workeroutput[XDIST_REFUSED] = XDIST_REFUSAL
            raise AuthprobeError(XDIST_REFUSAL)
        if config.getoption("numprocesses", default=None) not in (None, 0, "0"):
            raise AuthprobeError(XDIST_REFUSAL)
        sel = self.selection()
        folders = {Path(item.path).parent for item in items}
        planning.check_expectation_names(sel.expectations, set(sel.all_profiles), folders)
        self.added_steps = planning.added_steps(config)
        replaced = timeouts.configure(sel.timeouts, timeouts.declared_by(self.added_steps))
        if self._timeouts_before is None:
            self._timeouts_before = replaced
        self.reporter.start(sel.reports_root, sel.minors, self.run_token)
        if config.option.collectonly:
            versions = {m: resolve(m).patch for m in sel.minors}
            if sel.upgrade_to:
                versions[sel.upgrade_to] = resolve(sel.upgrade_to).patch
        else:
            engine.ensure_engine()
            self.registry = images.registry_answers()
            self.targets = planning.choose_images(sel, self.registry)
            versions = {m: t.choice.version for m, t in self.targets.items()}
            if sel.upgrade_to:
                self.upgrade = planning.choose_upgrade(sel, self.targets, self.registry)
                versions[sel.upgrade_to] = self.upgrade.version
        self.runlog.observations = sel.expectations.observations.to_dict()
        plans = planning.plan_items(items, sel, versions, self.expects_down)
        planning.check_down_profiles(plans, self.expects_down)
        for item, plan in plans.items():
            item.stash[PLAN] = plan
            item.stash[STATE] = _cells.ItemState()
        items = planning.short_cells_last(
            items, lambda cell: self.expects_down(cell.profile, versions[cell.minor]))
        if config.option.collectonly:
            return items
        self.cells = list(dict.fromkeys(planning.cell_of(i) for i in items
                                        if not plans[i].na))
        for cell in [c for c in self.cells if c.upgraded_from]:
            if Cell(cell.profile, cell.upgraded_from) not in self.cells:
                self.cells.insert(0, Cell(cell.profile, cell.upgraded_from))
        if self.cells:
            self.pool = self._make_pool(sel, versions)
            items = planning.last_in_waves(items, self.cells, self.pool.max_alive)
        self.remaining = Counter(planning.cell_of(i) for i in items)
        return items

    def expects_down(self, profile: str, version: KubeVersion) -> bool:
        """Whether the expectations say this profile's control plane does not come up."""
        try:
            row = self.selection().expectations.lookup(profile, "control_plane_comes_up",
                                                       version)
        except AuthprobeError:
            return False
        return row.get("comes_up") is False

    def _make_pool(self, sel: Selection, versions: dict[str, KubeVersion]):
        from ..harness import steps
        from ..harness.pool import ClusterPool
        from ..harness.render import HostFacts
        from ..host import tools
        from ..report import register_secret

        kind_path = sel.kind_bin or tools.ensure_kind()
        kind_version = tools.check_kind(kind_path)
        env = steps.Env(
            runlog=self.runlog, kind_path=kind_path, kind_version=kind_version,
            host=HostFacts(cgroup_version=host_cgroup_version()),
            logs_root=lambda: self.reporter.folder() / "logs",
            register_secret=register_secret,
            other_flags=other_flags(sel, versions),
            keep=sel.keep, observe_window=sel.observe_window,
            dashboard_pull=self.registry,
            audit=os.environ.get(AUDIT_ENV, "on") != "off",
        )
        profiles = {m: {p: sel.all_profiles[p].at(v) for p in sel.profiles}
                    for m, v in versions.items()}
        capacity = host_capacity(docker.root_dir())
        max_alive = capacity.clusters
        if max_alive < len(self.cells):
            say(f"this host runs about {max_alive} clusters at once (limited by "
                f"{capacity.limit}); the {len(self.cells)} clusters of this run take turns"
                + (f". More at once: {capacity.remedy}" if capacity.remedy else ""))
        return ClusterPool(env, self.targets, profiles, self.expects_down, self.run_token,
                           str(self.config.rootpath), sel.reuse, sel.keep, max_alive,
                           added_steps=self.added_steps, upgrade=self.upgrade)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist's controller: a worker refused the run in its collection."""
        refusal = getattr(node, "workeroutput", {}).get(XDIST_REFUSED)
        if refusal:
            raise pytest.UsageError(refusal)

    # -- running ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.pool is None:
            return
        self._install_signal_handlers()
        self.pool.start(self.cells)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem) -> bool | None:
        plan = item.stash.get(PLAN, None)
        if plan is None or plan.na or self.pool is None:
            return None
        from ..harness.pool import Unavailable

        cell = planning.cell_of(item)
        try:
            self.pool.image(cell.upgraded_from or cell.minor)
            self.pool.get(cell)
        except Unavailable as err:
            reason = err.one_line()
            if reason not in self.said:
                self.said.add(reason)
                say(f"not run, recorded as errors: the scenarios of {cell.id}: {reason}")
                self.runlog.add_problem(reason)
            self.runlog.add_cell(_cells.not_run(plan, item.nodeid, reason))
            self.item_done(cell)
            return True
        return None

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        plan = item.stash.get(PLAN, None)
        if plan is not None and plan.na:
            pytest.skip(f"n/a: {plan.na}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        try:
            return (yield)
        except NotRunnable as err:
            pytest.skip(err.one_line())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        plan = item.stash.get(PLAN, None)
        if plan is None:
            return report
        state = item.stash[STATE]
        declarations = self.selection().expectations.observations
        judged = _cells.judge_by_row(plan, state, report, declarations)
        assertion = judged == FAIL or bool(call.excinfo
                                           and call.excinfo.errisinstance(AssertionError))
        _cells.apply(plan, state, report, assertion, declarations)
        if report.when == "call" and state.outcome == NOT_JUDGED:
            # no row judged it: pytest's verdict says the run's (--fail-on-unjudged)
            failing = self.selection().fail_on_unjudged
            report.outcome = "failed" if failing else "passed"
            report.longrepr = f"{state.message} (--fail-on-unjudged)" if failing else None
        if report.when == "teardown":
            record = _cells.record(plan, state, item.nodeid)
            self.runlog.add_cell(record)
            cell = planning.cell_of(item)
            if record.outcome in (FAIL, ERROR):
                self.failed_cells.add(cell)
            self.item_done(cell)
        return report

    def item_done(self, cell: Cell) -> None:
        """After a cell's last item its cluster goes (items of cells run interleaved, see
        planning.last_in_waves, so the cluster fixture's own teardown cannot tell)."""
        self.remaining[cell] -= 1
        if self.remaining[cell] == 0 and self.pool is not None:
            self.pool.release(cell, export_logs=self.cell_failed(cell))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.tests_collected = len(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reporter.add_test_report(report)
        if report.when == "teardown":
            self.tests_done += 1
            if self.pool is not None and quiet_for() >= HEARTBEAT:
                # pytest -q shows a test as a dot, not a line: a quiet stretch of short
                # tests still says that it moves
                say(f"running the scenarios: {self.tests_done} of {self.tests_collected} "
                    f"tests done, the last {report.nodeid}")

    # -- ending ----------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.pool is not None and not self.pool.aborting.is_set():
            self.pool.finish()
        self._restore_signal_handlers()
        if self._terminated:
            session.exitstatus = 128 + signal.SIGTERM
        failing = (FAIL, ERROR, NOT_JUDGED) if self._fails_unjudged() else (FAIL, ERROR)
        if (any(c.outcome in failing for c in self.runlog.cells)
                and session.exitstatus in (0, 5)):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # the report says it too
        written = self.reporter.write(int(session.exitstatus))
        if written is False and session.exitstatus in (0, 5):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _fails_unjudged(self) -> bool:
        try:
            return self.selection().fail_on_unjudged
        except AuthprobeError:
            return False

    def pytest_terminal_summary(self, terminalreporter) -> None:
        self.reporter.summary(terminalreporter)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        terminal.uninstall()
        if self._timeouts_before is not None:
            timeouts.restore(self._timeouts_before)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            name = signal.Signals(signum).name
            say(f"{name} received: stopping kind and deleting the clusters this run created "
                "(please wait)")
            deleted = self.pool.abort()
            say(f"deleted {len(deleted)} cluster(s)" + (f": {', '.join(deleted)}" if deleted
                                                        else ""))
            for cluster in self.pool.ending_here():
                say(f"finishing the end of cluster {cluster} first (begun before the signal)")
            self._restore_signal_handlers()
            if signum == signal.SIGINT:
                interrupts.deliver(KeyboardInterrupt())
                return
            self._terminated = True
            interrupts.deliver(Terminated(f"terminated by {name}"))

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, handler)

    def _restore_signal_handlers(self) -> None:
        for sig, old in self._previous_handlers.items():
            signal.signal(sig, old)
        self._previous_handlers = {}

    def cell_failed(self, cell: Cell) -> bool:
        return cell in self.failed_cells
