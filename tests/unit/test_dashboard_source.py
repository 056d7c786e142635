"""AUTHPROBE_DASHBOARD_SOURCE: which trees are accepted, and that their content names the image."""

from __future__ import annotations

import re
import stat

import pytest

from authprobe.errors import AuthprobeError
from authprobe.nodeimage import dashboard


def _tree(root, module=dashboard.DASHBOARD_MODULE):
    (root / "src/app/backend").mkdir(parents=True)
    (root / "go.mod").write_text(f"module {module}\n\ngo 1.19\n")
    (root / "go.sum").write_text("")
    (root / "src/app/backend/dashboard.go").write_text("package main\n")
    return root


def test_unset_means_module_proxy(monkeypatch):
    monkeypatch.delenv(dashboard.SOURCE_ENV, raising=False)
    assert dashboard.source_dir() is None


def test_dashboard_tree_accepted(monkeypatch, tmp_path):
    root = _tree(tmp_path / "src")
    monkeypatch.setenv(dashboard.SOURCE_ENV, str(root))
    assert dashboard.source_dir() == root.resolve()


@pytest.mark.parametrize("module", ["example.com/other", "k8s.io/dashboard/api"])
def test_other_module_rejected_in_one_line(monkeypatch, tmp_path, module):
    monkeypatch.setenv(dashboard.SOURCE_ENV, str(_tree(tmp_path / "src", module)))
    with pytest.raises(AuthprobeError) as caught:
        dashboard.source_dir()
    line = caught.value.one_line()
    assert "\n" not in line and dashboard.SOURCE_ENV in line and "v2.7.0" in line


def test_missing_directory_rejected(monkeypatch, tmp_path):
    monkeypatch.setenv(dashboard.SOURCE_ENV, str(tmp_path / "absent"))
    with pytest.raises(AuthprobeError):
        dashboard.source_dir()


def test_tree_digest_follows_backend_content(tmp_path):
    root = _tree(tmp_path / "src")
    before = dashboard._tree_digest(root)
    assert dashboard._tree_digest(root) == before
    (root / "src/app/backend/dashboard.go").write_text("package main\n\nfunc main() {}\n")
    assert dashboard._tree_digest(root) != before


def test_inputs_and_tag_follow_the_source(monkeypatch, tmp_path):
    monkeypatch.delenv(dashboard.SOURCE_ENV, raising=False)
    proxy = dashboard.inputs()
    assert proxy["source"] == "module-proxy"
    assert proxy["version"] == dashboard.DASHBOARD_VERSION and proxy["go"].startswith("go")
    proxy_tag = dashboard.image_tag()
    assert re.fullmatch(r"authprobe/dashboard:v2\.7\.0-[0-9a-f]{12}", proxy_tag)
    root = _tree(tmp_path / "src")
    monkeypatch.setenv(dashboard.SOURCE_ENV, str(root))
    assert dashboard.inputs()["source"] == dashboard._tree_digest(root.resolve())
    local_tag = dashboard.image_tag()
    assert local_tag != proxy_tag
    (root / "src/app/backend/dashboard.go").write_text("package main // changed\n")
    assert dashboard.image_tag() != local_tag


def test_image_tree_layout(tmp_path):
    binary = tmp_path / "dashboard-bin"
    binary.write_bytes(b"\x7fELF")
    tree = dashboard._image_tree(binary, tmp_path / "tree")
    assert sorted(p.name for p in tree.iterdir()) == ["certs", "dashboard", "tmp"]
    assert stat.S_IMODE((tree / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((tree / "certs").stat().st_mode) == 0o755
    assert stat.S_IMODE((tree / "dashboard").stat().st_mode) == 0o755
    (tree / "stale").write_text("x")
    assert not (dashboard._image_tree(binary, tree) / "stale").exists()
