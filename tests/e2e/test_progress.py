"""Progress as it happens: a run's output, read from a pipe as it is written, never goes
quiet for longer than the heartbeat while clusters are created, the scenarios run and the
restart windows are observed (the session's main job, tests/e2e/shared_runs.py)."""

from __future__ import annotations

import pytest

from authprobe.progress import HEARTBEAT

pytestmark = pytest.mark.e2e

SLACK = 8.0  # a line written just after a heartbeat's moment, and the pipe's own delay


def test_output_never_goes_quiet(main_job):
    lines = main_job.child.lines
    assert main_job.code == 0, main_job.child.tail()
    gaps = [(later - earlier, text) for (earlier, _), (later, text)
            in zip(lines, lines[1:], strict=False)]
    longest, after = max(gaps)
    assert longest <= HEARTBEAT + SLACK, f"{longest:.0f}s without a line, until: {after}"
    assert lines[-1][0] - lines[0][0] > 300, "the run ended before a whole window"
    assert any("creating cluster" in text for _, text in lines)
    assert any("kube-apiserver restarts over a" in text for _, text in lines), \
        main_job.child.tail()
