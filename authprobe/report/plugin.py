"""Writing the run's reports at the end of a pytest session.

The harness calls :class:`Reporter` once it knows the run has scenarios (``start``), hands
it every test report (for the tests that are not scenarios, which JUnit lists too), and
asks it to ``write`` after the clusters are gone and their logs exported.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path

import pytest

from ..model.outcome import RunLog
from . import document as _document
from . import folder as _folder
from . import summary as _summary
from .scrub import scrub_tree


class Reporter:
    def __init__(self, config: pytest.Config, runlog: RunLog) -> None:
        self.config = config
        self.runlog = runlog
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.root: Path | None = None
        self.minors: list[str] = []
        self.token = ""
        self._folder: Path | None = None
        self.tests: dict[str, dict] = {}
        self.document: dict | None = None

    def start(self, root: Path, minors: list[str], token: str) -> None:
        self.root, self.minors, self.token = root, minors, token

    @property
    def active(self) -> bool:
        return self.root is not None and not self.config.option.collectonly

    def folder(self) -> Path:
        """This run's report folder, created on first use (safe from any thread)."""
        if self._folder is None:
            self._folder = _folder.create(self.root, _folder.run_id(self.started, self.minors))
        return self._folder

    def add_test_report(self, report: pytest.TestReport) -> None:
        if self.active:
            _document.add_test_report(self.tests, report)

    def write(self, exitstatus: int) -> bool | None:
        """Write every report file; None when the run had no scenarios, False on failure."""
        if not self.active:
            return None
        try:
            folder = self.folder()
            finished = _dt.datetime.now(_dt.timezone.utc)
            run = {
                "id": folder.name, "token": self.token,
                "started": self.started.isoformat(timespec="seconds"),
                "finished": finished.isoformat(timespec="seconds"),
                "seconds": round((finished - self.started).total_seconds(), 1),
                "exit_status": int(exitstatus),
                "pytest_args": [str(a) for a in self.config.invocation_params.args],
            }
            from .writer import write_all

            scrub_tree(folder / "logs")
            self.document = _document.build(run, self.runlog, list(self.tests.values()), folder)
            write_all(self.document, folder)
            _folder.update_latest(folder)
        except OSError as err:
            print(f"authprobe: cannot write the report in {self._folder or self.root}: "
                  f"{err.strerror or err}", file=sys.stderr)
            return False
        return True

    def summary(self, terminalreporter) -> None:
        if self.document is None:
            return
        terminalreporter.section("authprobe outcome matrix")
        for line in _summary.lines(self.document, self.folder()):
            terminalreporter.write_line(line)
