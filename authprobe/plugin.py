"""authprobe's pytest plugin: options, one cluster per profile and version, fixtures.

Any test that requests ``cluster`` is parametrized over the selected profiles and
Kubernetes versions (ids like ``anon-on-1.34``). The clusters those tests need are
brought up in parallel before the first test runs, shared by every test of the same
cell, and removed when done (or on Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import threading
from pathlib import Path

import pytest

from .errors import AuthprobeError
from .progress import say, set_sink
from .runlog import runlog

IMAGE_POLICIES = ("build", "local", "pull")
DEFAULT_OBSERVE_WINDOW = 330.0
SHARED_FIXTURE = "authprobe_shared_cluster"
MARKERS = (
    "control_plane_any: run the scenario even when the control plane did not come up "
    "(the cluster fixture then hands over the start failure and its evidence)",
)
ENV = {
    "k8s_version": "AUTHPROBE_K8S_VERSION",
    "profile": "AUTHPROBE_PROFILE",
    "reuse_clusters": "AUTHPROBE_REUSE_CLUSTERS",
    "observe_window": "AUTHPROBE_OBSERVE_WINDOW",
    "reports_dir": "AUTHPROBE_REPORTS_DIR",
    "image_policy": "AUTHPROBE_IMAGE_POLICY",
    "kind_bin": "AUTHPROBE_KIND_BIN",
    "kind_image": "AUTHPROBE_KIND_IMAGE",
    "keep_cluster": "AUTHPROBE_KEEP_CLUSTER",
}

SETTINGS_KEY = pytest.StashKey["Selection"]()
POOL_KEY = pytest.StashKey[object]()
PUMP_KEY = pytest.StashKey[object]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("authprobe", "authprobe: clusters for the scenarios")
    group.addoption(
        "--k8s-version", action="append", default=None, metavar="VERSION",
        help="Kubernetes minor or patch to run (repeatable or comma list; default from "
             f"clusters/versions.yaml; env {ENV['k8s_version']})",
    )
    group.addoption(
        "--profile", action="append", default=None, metavar="ID",
        help=f"cluster profile to run (repeatable or comma list; default all; env "
             f"{ENV['profile']})",
    )
    group.addoption(
        "--reuse-clusters", action="store_true", default=None,
        help=f"keep clusters after the run and reuse them next time (env "
             f"{ENV['reuse_clusters']})",
    )
    group.addoption(
        "--observe-window", default=None, metavar="SECONDS",
        help=f"seconds to watch kube-apiserver restarts (default {DEFAULT_OBSERVE_WINDOW:.0f};"
             f" env {ENV['observe_window']})",
    )
    group.addoption(
        "--reports-dir", default=None, metavar="DIR",
        help=f"where run reports go (default reports/; env {ENV['reports_dir']})",
    )
    group.addoption(
        "--image-policy", default=None, choices=IMAGE_POLICIES,
        help="node image: build = offline build (default), local = existing "
             "authprobe/node:v<patch>, pull = published kindest/node "
             f"(env {ENV['image_policy']})",
    )


def _truthy(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


def _split(values: list[str] | None) -> list[str]:
    out = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


class Selection:
    """Every option resolved (command line first, then environment, then default)."""

    def __init__(self, config: pytest.Config) -> None:
        from . import profiles as _profiles
        from . import versions as _versions

        def opt(name):
            return config.getoption(name, default=None)

        versions = _split(opt("k8s_version")) or _split([os.environ.get(ENV["k8s_version"], "")])
        versions = versions or [_versions.default_version()]
        self.versions = {}
        for spec in versions:
            supported = _versions.resolve(spec)
            self.versions[supported.version.minor_str] = supported
        names = _split(opt("profile")) or _split([os.environ.get(ENV["profile"], "")])
        self.profiles = {p.id: p for p in _profiles.select(names)}
        self.reuse = bool(opt("reuse_clusters")) or _truthy(os.environ.get(ENV["reuse_clusters"]))
        self.keep = bool(opt("keep_cluster")) or _truthy(os.environ.get(ENV["keep_cluster"]))
        window = opt("observe_window") or os.environ.get(ENV["observe_window"])
        try:
            self.observe_window = float(window) if window else DEFAULT_OBSERVE_WINDOW
        except ValueError:
            raise AuthprobeError(f"--observe-window '{window}' is not a number of seconds"
                                 ) from None
        if self.observe_window <= 0:
            raise AuthprobeError("--observe-window must be a positive number of seconds")
        policy = opt("image_policy") or os.environ.get(ENV["image_policy"]) or "build"
        if policy not in IMAGE_POLICIES:
            raise AuthprobeError(f"image policy '{policy}' is unknown: use one of "
                                 f"{', '.join(IMAGE_POLICIES)}")
        self.image_policy = policy
        self.kind_bin = opt("kind_bin") or os.environ.get(ENV["kind_bin"]) or None
        if self.kind_bin and not Path(self.kind_bin).exists():
            raise AuthprobeError(f"kind binary {self.kind_bin} does not exist: fix --kind-bin "
                                 f"/ {ENV['kind_bin']} or leave it unset")
        self.kind_image = opt("kind_image") or os.environ.get(ENV["kind_image"]) or None
        if self.kind_image and len(self.versions) > 1:
            raise AuthprobeError("--kind-image names one node image: pass a single "
                                 "--k8s-version with it")

    def cells(self):
        from .pool import Cell

        return [Cell(p, m) for p in self.profiles for m in self.versions]


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    given = config.getoption("reports_dir", default=None)
    if not given and os.environ.get(ENV["reports_dir"]):
        config.option.reports_dir = os.environ[ENV["reports_dir"]]
    try:
        config.stash[SETTINGS_KEY] = Selection(config)
    except AuthprobeError as err:
        raise pytest.UsageError(err.one_line()) from None
    _install_progress_sink(config)


def _install_progress_sink(config: pytest.Config) -> None:
    """Progress lines go to the terminal past output capture; other threads queue them.

    The queue is a lock-free deque so a signal handler may write progress lines too.
    """
    pending: collections.deque[str] = collections.deque()
    main = threading.main_thread()

    def write(line: str) -> None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        capman = config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            print(line, flush=True)
        elif capman is not None:
            with capman.global_and_fixture_disabled():
                terminal.write_line(line)
        else:
            terminal.write_line(line)

    def pump() -> None:
        if threading.current_thread() is not main:
            return
        while True:
            try:
                line = pending.popleft()
            except IndexError:
                return
            write(line)

    def sink(line: str) -> None:
        pending.append(line)
        pump()

    config.stash[PUMP_KEY] = pump
    set_sink(sink)


def pytest_unconfigure(config: pytest.Config) -> None:
    pump = config.stash.get(PUMP_KEY, None)
    if pump is not None:
        pump()
    set_sink(None)


def _pump(config: pytest.Config) -> None:
    pump = config.stash.get(PUMP_KEY, None)
    if pump is not None:
        pump()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if SHARED_FIXTURE not in metafunc.fixturenames:
        return
    cells = metafunc.config.stash[SETTINGS_KEY].cells()
    metafunc.parametrize(SHARED_FIXTURE, cells, ids=[c.id for c in cells], indirect=True,
                         scope="session")


def _cells_of(items: list[pytest.Item]) -> list:
    cells = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and SHARED_FIXTURE in callspec.params:
            cells.append(callspec.params[SHARED_FIXTURE])
    return list(dict.fromkeys(cells))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    cells = _cells_of(items)
    if not cells or config.option.collectonly:
        return
    try:
        _check_expectations(config, items)
        pool = _make_pool(config)
    except AuthprobeError as err:
        raise pytest.UsageError(err.one_line()) from None
    config.stash[POOL_KEY] = (pool, cells)


def _check_expectations(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every scenario that asks for ``expected`` has a row, before any cluster is made."""
    from .expectations import lookup

    sel: Selection = config.stash[SETTINGS_KEY]
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or SHARED_FIXTURE not in callspec.params:
            continue
        if "expected" not in getattr(item, "fixturenames", ()):
            continue
        cell = callspec.params[SHARED_FIXTURE]
        lookup(cell.profile, _scenario_id(item), sel.versions[cell.minor].version)


def _make_pool(config: pytest.Config):
    from . import engine, provider, tools
    from .pool import ClusterPool, Settings
    from .render import HostFacts
    from .report import register_secret

    sel: Selection = config.stash[SETTINGS_KEY]
    engine.require_engine()
    if sel.kind_bin:
        kind_path = Path(sel.kind_bin)
    else:
        kind_path = tools.ensure_kind()
    kind_version = tools.kind_version_of(kind_path)
    if kind_version is None:
        raise AuthprobeError(f"{kind_path} does not run as kind (`kind version` failed)")
    settings = Settings(
        profiles=sel.profiles, versions=sel.versions, kind_path=kind_path,
        kind_version=kind_version, image_policy=sel.image_policy, kind_image=sel.kind_image,
        keep=sel.keep, reuse=sel.reuse, observe_window=sel.observe_window,
        host=HostFacts(cgroup_version=provider.host_cgroup_version()),
        logs_root=lambda: _logs_root(config), register_secret=register_secret,
        expects_down=_expects_down, max_alive=provider.clusters_host_allows(),
    )
    cells = len(sel.profiles) * len(sel.versions)
    if settings.max_alive < cells:
        say(f"this host allows about {settings.max_alive} running clusters at once "
            f"(fs.inotify.max_user_instances={provider.inotify_instances()}); the "
            f"{cells} clusters of this run take turns. To run them all at once: "
            f"sysctl -w fs.inotify.max_user_instances={cells * provider.INOTIFY_PER_NODE * 2}")
    return ClusterPool(settings, runlog(config))


def _logs_root(config: pytest.Config) -> Path:
    from .report import run_dir

    return run_dir(config) / "logs"


def _expects_down(profile: str, version) -> bool:
    """Whether the expectations say this profile's control plane must not come up."""
    from .expectations import lookup

    try:
        return lookup(profile, "control_plane_comes_up", version).comes_up is False
    except AuthprobeError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    planned = session.config.stash.get(POOL_KEY, None)
    if planned is None:
        return
    pool, cells = planned
    _install_signal_handlers(session.config, pool)
    pool.start(cells)


def _install_signal_handlers(config: pytest.Config, pool) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    previous = {}

    def handler(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        name = signal.Signals(signum).name
        say(f"{name} received: stopping kind and deleting the clusters this run created "
            "(please wait)")
        deleted = pool.abort()
        _pump(config)
        say(f"deleted {len(deleted)} cluster(s)" + (f": {', '.join(deleted)}" if deleted else ""))
        _pump(config)
        for sig, old in previous.items():
            signal.signal(sig, old)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise pytest.exit.Exception(f"terminated by {name}", returncode=128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    config.stash[_HANDLERS_KEY] = previous


_HANDLERS_KEY = pytest.StashKey[dict]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    planned = session.config.stash.get(POOL_KEY, None)
    if planned is not None:
        pool, _ = planned
        if not pool.aborting.is_set():
            pool.finish()
    _pump(session.config)
    for sig, old in session.config.stash.get(_HANDLERS_KEY, {}).items():
        signal.signal(sig, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    _pump(item.config)
    yield
    _pump(item.config)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def authprobe_shared_cluster(request: pytest.FixtureRequest):
    """The cluster of one (profile, version) cell, shared by every scenario that needs it."""
    config = request.config
    cell = request.param
    planned = config.stash.get(POOL_KEY, None)
    if planned is None:
        try:
            pool = _make_pool(config)
        except AuthprobeError as err:
            pytest.exit(err.one_line(), returncode=4)
        config.stash[POOL_KEY] = (pool, [cell])
        _install_signal_handlers(config, pool)
    else:
        pool = planned[0]
    try:
        shared = pool.get(cell, pump=lambda: _pump(config))
    except AuthprobeError as err:
        pytest.fail(f"cluster for {cell.id}: {err.one_line()}", pytrace=False)
    _pump(config)
    yield shared
    pool.release(cell)
    _pump(config)


def _scenario_id(item: pytest.Item) -> str:
    name = getattr(item, "originalname", None) or item.name.split("[")[0]
    return name[5:] if name.startswith("test_") else name


@pytest.fixture
def cluster(request: pytest.FixtureRequest, authprobe_shared_cluster):
    """The scenario's view of its cluster (see authprobe.pool.SharedCluster)."""
    shared = authprobe_shared_cluster
    props = request.node.user_properties
    props.extend([
        ("k8s_version", str(shared.version)),
        ("profile", shared.profile.id),
        ("scenario", _scenario_id(request.node)),
        ("node_image", shared.image),
        ("kind_version", shared.kind_version),
        ("cluster", shared.name),
    ])
    if shared.error:
        pytest.fail(shared.error, pytrace=False)
    if not shared.up and request.node.get_closest_marker("control_plane_any") is None:
        if shared.expected_down:
            pytest.skip(f"n/a: control plane of {shared.profile.id} did not come up (expected)")
        pytest.fail(f"control plane of {shared.name} is down: {shared.start_failure}",
                    pytrace=False)
    return shared


@pytest.fixture
def expected(request: pytest.FixtureRequest, cluster):
    """The expectation row for this scenario, profile and version."""
    from .expectations import lookup

    try:
        row = lookup(cluster.profile.id, _scenario_id(request.node), cluster.version)
    except AuthprobeError as err:
        pytest.fail(err.one_line(), pytrace=False)
    request.node.user_properties.append(("expected", row.to_json()))
    if row.na:
        pytest.skip(f"n/a: {row.na}")
    return row


@pytest.fixture
def observe(request: pytest.FixtureRequest):
    """``observe(field=value, ...)`` records what the scenario saw (JSON values)."""

    def record(**fields) -> None:
        for name, value in fields.items():
            json.dumps(value)  # TypeError here names a value reports could not hold
            request.node.user_properties.append((f"observed.{name}", value))

    return record
