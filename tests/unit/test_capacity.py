from pathlib import Path

from authprobe.host import capacity


def test_the_tightest_limit_wins_and_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(capacity, "_inotify", lambda: capacity.Capacity(16, "inotify", "sysctl"))
    monkeypatch.setattr(capacity, "_memory", lambda: capacity.Capacity(22, "memory", ""))
    monkeypatch.setattr(capacity, "_disk", lambda root: capacity.Capacity(5, "disk", "free"))
    monkeypatch.setattr(capacity, "_cpu", lambda: capacity.Capacity(12, "cpu", ""))
    found = capacity.host_capacity(tmp_path)
    assert (found.clusters, found.limit, found.remedy) == (5, "disk", "free")


def test_a_full_disk_still_allows_one_cluster(monkeypatch, tmp_path):
    monkeypatch.setattr(capacity.shutil, "disk_usage",
                        lambda path: type("U", (), {"free": capacity.DISK_RESERVE // 2})())
    assert capacity._disk(tmp_path).clusters == 0
    assert capacity.host_capacity(tmp_path).clusters == 1


def test_disk_allowance_counts_whole_nodes_above_the_reserve(monkeypatch, tmp_path):
    free = capacity.DISK_RESERVE + 3 * capacity.DISK_PER_NODE + 1
    monkeypatch.setattr(capacity.shutil, "disk_usage",
                        lambda path: type("U", (), {"free": free})())
    assert capacity._disk(Path("/")).clusters == 3
