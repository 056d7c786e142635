"""AUTHPROBE_DASHBOARD_SOURCE: which trees are accepted, and that their content names the image."""

from __future__ import annotations

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
