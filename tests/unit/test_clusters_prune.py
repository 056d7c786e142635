"""`authprobe clusters prune`: which private folders are left over once their cluster is gone."""

from authprobe.commands.clusters import orphan_folders
from authprobe.harness import naming


def test_orphan_folders_are_those_no_run_holds_and_no_cluster_has(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_CACHE_DIR", str(tmp_path))
    left = naming.cluster_name("anon-on", "1.30", "a6eec6")
    held = naming.cluster_name("anon-off", "1.30", "a6eec6")
    running = naming.cluster_name("anon-on", "1.34", "3bbdc1")
    for name in (left, held, running):
        naming.private_dir(name)
    (tmp_path / "clusters" / "not-a-cluster").mkdir()
    lease = naming.take_lease(held, "b0b0b0", str(tmp_path))
    assert lease is not None
    try:
        assert orphan_folders(present={running}) == [left]
    finally:
        lease.release()
    assert orphan_folders(present={running}) == sorted([left, held])


def test_no_cluster_folder_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_CACHE_DIR", str(tmp_path / "none"))
    assert orphan_folders(present=set()) == []
