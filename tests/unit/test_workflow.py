"""The nightly GitHub Actions workflow passes actionlint."""

import os
import subprocess
from pathlib import Path

import pytest

from authprobe.host.tools import go_binary
from authprobe.paths import tools_dir

ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """actionlint built from its Go module into the project's tools folder (cached)."""
    binary = tools_dir() / "bin" / "actionlint"
    if not binary.exists():
        env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0"}
        build = subprocess.run(
            [go_binary(), "install", ACTIONLINT], env=env, capture_output=True, text=True
        )
        assert build.returncode == 0, f"go install {ACTIONLINT} failed:\n{build.stderr}"
    return binary


def test_there_is_a_nightly_workflow():
    assert [w.name for w in WORKFLOWS] == ["nightly.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(actionlint, workflow):
    result = subprocess.run(
        [str(actionlint), "-no-color", str(workflow)],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
