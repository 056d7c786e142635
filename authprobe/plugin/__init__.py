"""authprobe's pytest plugin, registered by the ``pytest11`` entry point ``authprobe``.

It stays out of the way of runs that use no ``cluster`` fixture. A test that asks for
``cluster`` is parametrized over the selected profiles and Kubernetes minors (ids like
``anon-on-1.34``); the clusters those tests need are brought up in parallel before the
first test runs, shared by every test of the same cell, and deleted when done (also on
Ctrl-C and SIGTERM). Every run that has such tests writes a report folder. With
``--upgrade-to`` each cluster is upgraded in place once its scenarios ran, and they run
again on it (ids like ``anon-on-1.35-from-1.34``). A team adds lifecycle steps with the hook
``pytest_authprobe_lifecycle_steps`` (:mod:`.hooks`).
"""

from __future__ import annotations

import pytest

from . import hooks, terminal
from .fixtures import authprobe_cluster, cluster, expected, observe
from .options import add_options
from .planning import AFTER_UPGRADE_MARKER, ANY_STATE_MARKER, LAST_MARKER
from .session import HARNESS, Harness

__all__ = ["authprobe_cluster", "cluster", "expected", "observe"]
MARKERS = (
    f"{ANY_STATE_MARKER}: run the scenario even when the control plane did not come up (the "
    "cluster fixture then hands over the start failure and its evidence)",
    f"{LAST_MARKER}: run the scenario after the other scenarios of every cluster that is up "
    "at the same time (one that waits out the restart observation window)",
    f"{AFTER_UPGRADE_MARKER}: run the scenario only on a cluster an upgrade reached "
    "(--upgrade-to); a module marked so is not collected in a run without one",
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    harness = Harness(config)
    config.stash[HARNESS] = harness
    config.pluginmanager.register(harness, "authprobe-harness")
    terminal.install(config)
