"""Progress as it happens: a run's output, read from a pipe as it is written, never goes
quiet for longer than the heartbeat while a cluster is created and observed."""

from __future__ import annotations

import pytest

from .conftest import VERSION

pytestmark = pytest.mark.e2e

HEARTBEAT = 30.0
SLACK = 8.0
SCENARIO = '''
def test_observes(cluster):
    cluster.restarts.wait_for_window(120)
'''


def test_output_never_goes_quiet(tmp_path, run_child):
    (tmp_path / "test_observe.py").write_text(SCENARIO)
    child = run_child("--k8s-version", VERSION, "--profile", "anon-on")
    assert child.proc.returncode == 0, child.tail()
    stamps = [t for t, _ in child.lines]
    gaps = [(later - earlier, text) for (earlier, _), (later, text)
            in zip(child.lines, child.lines[1:], strict=False)]
    longest, after = max(gaps)
    assert longest <= HEARTBEAT + SLACK, f"{longest:.0f}s without a line, until: {after}"
    assert stamps[-1] - stamps[0] > 120, "the run ended before a whole window"
    assert any("creating cluster" in text for _, text in child.lines)
    assert any("kube-apiserver restarts over a 2m00s window" in text
               for _, text in child.lines), child.tail()
