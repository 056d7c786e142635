"""Fixtures of the plugin tests.

Every test drives a child pytest (``pytester.runpytest_subprocess``: the plugin keeps
progress state per process) in a project of its own. The child sees none of the caller's
AUTHPROBE_* settings, and its PATH holds only a ``docker`` and a ``kind`` that record being
asked and fail: these tests never reach a Docker engine, and a check that fires too late
shows as a recorded call instead of a cluster.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> '{log}'
echo "$(basename "$0"): a stand-in of the authprobe plugin tests; no engine here" >&2
exit 1
"""
CLUSTER_TEST = """
import pytest


@pytest.mark.control_plane_any
def test_uses_cluster(cluster):
    pass


def test_plain():
    pass
"""


class Project:
    """A pytester project: ``run`` is a child pytest; the rest is pytester's."""

    def __init__(self, pytester: pytest.Pytester, tool_log: Path) -> None:
        self.pytester = pytester
        self.tool_log = tool_log

    def __getattr__(self, name: str):
        return getattr(self.pytester, name)

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*args, timeout=120)

    def tool_calls(self) -> list[str]:
        """The docker and kind commands the child runs asked for."""
        return self.tool_log.read_text().splitlines() if self.tool_log.exists() else []

    @staticmethod
    def text(result: pytest.RunResult) -> str:
        """Everything the child printed, stdout then stderr."""
        return "\n".join(result.outlines + result.errlines)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch, tmp_path_factory) -> Project:
    """A project with a cluster test and a plain test (test_cells.py)."""
    for name in list(os.environ):
        if name.startswith("AUTHPROBE_") or name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS",
                                                     "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
            monkeypatch.delenv(name)
    bin_dir = tmp_path_factory.mktemp("tools")
    tool_log = bin_dir / "calls.log"
    for tool in ("docker", "kind"):
        path = bin_dir / tool
        path.write_text(RECORDER.format(log=tool_log))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", str(bin_dir))
    pytester.makepyfile(test_cells=CLUSTER_TEST)
    return Project(pytester, tool_log)
