"""Two runs on one machine at the same moment (two checkouts) never touch each other's
clusters, and `authprobe clusters prune` leaves clusters in use alone."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from authprobe.wait import until

from .conftest import VERSION, clusters_left, created, left_of

pytestmark = pytest.mark.e2e

SCENARIO = '''
def test_holds_its_cluster(cluster):
    series = cluster.restarts.wait_for_window(60)
    assert cluster.anonymous.get("/livez").status_code == 200
    assert series[-1].restarts == 0
'''


def authprobe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "authprobe.cli", *args], capture_output=True,
                          text=True, timeout=600)


def test_two_runs_at_once_keep_to_their_own_clusters(tmp_path, run_child):
    checkouts = [tmp_path / "one", tmp_path / "two"]
    for folder in checkouts:
        folder.mkdir()
        (folder / "test_hold.py").write_text(SCENARIO)
    children = [run_child("--k8s-version", VERSION, "--profile", "anon-on", cwd=folder,
                          wait=False) for folder in checkouts]

    def names() -> list[str] | None:
        found = [name for child in children for name in created(child)]
        return found if len(found) == 2 else None

    mine = until(names, timeout=1500, interval=0.5, what="both runs to create their cluster")
    assert mine[0] != mine[1]
    until(lambda: set(mine) <= clusters_left(), timeout=300, interval=1,
          what="both clusters to have node containers")
    listed = authprobe("clusters", "list")
    for name in mine:
        assert re.search(rf"^{name}\t.*\tin use by run ", listed.stdout, re.M), listed.stdout
    pruned = authprobe("clusters", "prune")
    assert pruned.returncode == 0, pruned.stderr
    for name in mine:
        assert f"skipping {name}: in use" in pruned.stdout, pruned.stdout
    assert set(mine) <= clusters_left()
    for child in children:
        assert child.wait() == 0, child.tail()
    for child, name in zip(children, mine, strict=True):
        other = mine[1] if name == mine[0] else mine[0]
        assert other not in child.output, child.tail()
    for name in mine:
        assert not left_of({name}), name
