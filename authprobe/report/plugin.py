"""pytest hooks that write the run's reports.

A run that collects cluster scenarios (tests using the harness's ``cluster`` fixture) gets a folder
``reports/<run-id>/`` with ``junit.xml``, ``outcomes.json``, ``matrix.md``,
``matrix.html``, ``restarts.csv`` and ``restarts.svg``, and ``reports/latest`` points to
it. Other runs (unit tests, say) write nothing.
"""

from __future__ import annotations

import datetime as _dt
import re
import sys

import pytest

from .. import runlog as _runlog
from . import STARTED_KEY, VERSIONS_KEY, has_run_dir, reports_root, run_dir, update_latest
from . import outcomes as _outcomes
from . import summary as _summary
from .scrub import scrub_tree
from .writer import write_all

SCENARIO_FIXTURE = "cluster"
EXPECTED_FIXTURE = "expected"
HARNESS_MODULE = "authprobe.plugin"
_VERSION_RE = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
_ID_VERSION_RE = re.compile(r"(?:^|[-_\[])v?(\d+\.\d+(?:\.\d+)?)(?:$|[-_\]])")
_PROFILE_PARAMS = ("profile", "profile_id")
_VERSION_PARAMS = ("k8s_version", "version", "kube_version", "kubernetes_version")


def _text(value: object) -> str | None:
    if value is None:
        return None
    for attr in ("id", "name"):
        inner = getattr(value, attr, None)
        if isinstance(inner, str):
            return inner
    return str(value)


def _version_text(value: object) -> str | None:
    inner = getattr(value, "version", None)  # SupportedVersion
    return str(inner) if inner is not None else (str(value) if value is not None else None)


def describe_item(item: pytest.Item) -> dict[str, str]:
    """Profile, scenario and version of a scenario item, as far as collection tells."""
    found: dict[str, str] = {}
    name = getattr(item, "originalname", None) or item.name.split("[")[0]
    found["scenario"] = name[len("test_"):] if name.startswith("test_") else name
    callspec = getattr(item, "callspec", None)
    params = dict(callspec.params) if callspec is not None else {}
    for key, value in params.items():
        if key in _PROFILE_PARAMS or (key == SCENARIO_FIXTURE and isinstance(value, str)
                                      and not _VERSION_RE.match(value)):
            found["profile"] = _text(value) or ""
        elif key in _VERSION_PARAMS:
            found["version"] = _version_text(value) or ""
        else:
            for attr, slot in (("profile", "profile"), ("version", "version"),
                               ("minor", "version")):
                inner = getattr(value, attr, None)
                if inner is not None and slot not in found:
                    found[slot] = _text(inner) if slot == "profile" else _version_text(inner)
            if "version" not in found and isinstance(value, str) and _VERSION_RE.match(value):
                found["version"] = value
    if "version" not in found and callspec is not None:
        match = _ID_VERSION_RE.search(callspec.id)
        if match:
            found["version"] = match.group(1)
    return {k: v for k, v in found.items() if v}


def is_scenario(item: pytest.Item) -> bool:
    """Whether the item runs on a harness cluster: it uses the harness's ``cluster``
    fixture, or ``cluster`` together with ``expected`` (a scenario of the suite)."""
    names = getattr(item, "fixturenames", ())
    if SCENARIO_FIXTURE not in names:
        return False
    if EXPECTED_FIXTURE in names:
        return True
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {}).get(SCENARIO_FIXTURE) or ()
    return bool(defs) and getattr(defs[-1].func, "__module__", "") == HARNESS_MODULE


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Reporter(config), "authprobe-report")


class Reporter:
    """The hooks of one pytest run (pytester runs nest their own)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.active = False
        self.collector = _outcomes.Collector()
        self.document: dict | None = None
        config.stash[STARTED_KEY] = _dt.datetime.now(_dt.timezone.utc)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        scenarios = [i for i in items if is_scenario(i)]
        if not scenarios or self.config.option.collectonly:
            return
        self.active = True
        versions = set()
        for item in scenarios:
            facts = describe_item(item)
            self.collector.set_fallback(item.nodeid, **facts)
            if "version" in facts:
                versions.add(facts["version"])
        self.config.stash[VERSIONS_KEY] = sorted(versions, key=_outcomes.version_key)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.excinfo is not None and report.failed:
            report.authprobe_assertion = call.excinfo.errisinstance(
                (AssertionError, pytest.fail.Exception)
            )
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.active:
            self.collector.add(report)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int):
        # after every other plugin's sessionfinish: the harness deletes its clusters and
        # exports their logs there; and before the terminal summary, which reads the result
        result = yield
        self.write(exitstatus)
        return result

    def write(self, exitstatus: int) -> None:
        config = self.config
        ran = self.active and self.collector.has_results()
        if not (ran or has_run_dir(config)):
            return  # no scenario ran (collection only, bad options): nothing to report
        cells = self.collector.cells()
        if not has_run_dir(config):
            config.stash[VERSIONS_KEY] = sorted({c.version for c in cells},
                                                key=_outcomes.version_key)
        try:
            folder = run_dir(config)
        except OSError as err:
            print(f"authprobe: cannot create a report folder under {reports_root(config)}: "
                  f"{err.strerror or err}", file=sys.stderr)
            return
        finished = _dt.datetime.now(_dt.timezone.utc)
        started = config.stash[STARTED_KEY]
        run = {
            "id": folder.name,
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "seconds": round((finished - started).total_seconds(), 1),
            "exit_status": int(exitstatus),
            "pytest_args": [str(a) for a in config.invocation_params.args],
        }
        scrub_tree(folder / "logs")
        document = _outcomes.build(run, cells, self.collector.tests(),
                                   _runlog.runlog(config), folder)
        try:
            write_all(document, folder)
            update_latest(folder)
        except OSError as err:
            print(f"authprobe: cannot write the report in {folder}: {err.strerror or err}",
                  file=sys.stderr)
            return
        self.document = document

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.document is None:
            return
        terminalreporter.section("authprobe outcome matrix")
        for line in _summary.lines(self.document, run_dir(self.config)):
            terminalreporter.write_line(line)

