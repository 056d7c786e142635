"""authprobe installed without -e into a fresh venv (from PyPI: about a minute): the
command, the plugin by its entry point, and the shipped data inside site-packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import authprobe
from authprobe.model.expectations import load_files
from authprobe.model.profiles import load_dirs
from authprobe.paths import clusters_dir, scenarios_dir
from authprobe.plugin.planning import upgrade_only_module

REPO = Path(__file__).resolve().parents[2]
# What the build reads (pyproject.toml: readme, packages and their package-dir folders).
SOURCES = ("pyproject.toml", "README.md", "authprobe", "clusters", "scenarios")


def sh(*cmd, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}:\n{result.stdout}\n"
        f"{result.stderr}")
    return result


def test_installs_without_editable(tmp_path):
    # A copy of the checkout: pip builds in the source tree (build/, *.egg-info), and the
    # checkout is shared.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "reports"))
        else:
            shutil.copy2(path, source / name)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTHPROBE_", "PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
    empty = tmp_path / "empty"
    empty.mkdir()
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv, cwd=empty, env=env)
    bin_dir = venv / "bin"
    sh(bin_dir / "python", "-m", "pip", "install", "--quiet", source, cwd=empty, env=env,
       timeout=600)

    version = sh(bin_dir / "authprobe", "--version", cwd=empty, env=env)
    assert version.stdout.strip() == f"authprobe {authprobe.__version__}" == "authprobe 0.2.0"
    helped = sh(bin_dir / "authprobe", "--help", cwd=empty, env=env)
    assert "bootstrap" in helped.stdout and "pytest --pyargs authprobe.scenarios" in helped.stdout

    every = load_files([scenarios_dir() / "expectations.yaml"]).scenarios
    after = {line.split("def test_", 1)[1].split("(", 1)[0]
             for module in sorted(scenarios_dir().glob("test_*.py")) if upgrade_only_module(module)
             for line in module.read_text().splitlines() if line.startswith("def test_")}
    shipped = set(every) - after
    all_profiles = load_dirs([clusters_dir() / "profiles"])
    profiles = [p for p in all_profiles.values() if not p.upgrade_only]
    quiet = sh(bin_dir / "python", "-m", "pytest", "--collect-only", "-q", "--pyargs",
               "authprobe.scenarios", "-p", "no:cacheprovider", cwd=empty, env=env)
    assert f"{len(shipped) * len(profiles)} tests collected" in quiet.stdout, quiet.stdout
    assert len(shipped) * len(profiles) == 45 * 8
    # an upgrade run: every profile, the scenarios on both minors, and those of after it
    upgrading = sh(bin_dir / "python", "-m", "pytest", "--collect-only", "-q", "--pyargs",
                   "authprobe.scenarios", "-p", "no:cacheprovider", "--k8s-version", "1.34",
                   "--upgrade-to", "1.35", cwd=empty, env=env)
    count = len(all_profiles) * (2 * len(shipped) + len(after))
    assert f"{count} tests collected" in upgrading.stdout, upgrading.stdout
    header = sh(bin_dir / "python", "-m", "pytest", "--collect-only", "--pyargs",
                "authprobe.scenarios", "-p", "no:cacheprovider", cwd=empty, env=env)
    plugins = [line for line in header.stdout.splitlines() if line.startswith("plugins:")]
    assert plugins and "authprobe" in plugins[0], header.stdout
    assert sorted(p.name for p in empty.iterdir()) == [], "the collection left files behind"

    where = sh(bin_dir / "python", "-c",
               "import authprobe, authprobe.paths as p, sysconfig\n"
               "print(sysconfig.get_paths()['purelib'])\n"
               "print(authprobe.__file__)\n"
               "print(p.clusters_dir())\n"
               "print(p.scenarios_dir())\n"
               "print(sorted(x.name for x in (p.clusters_dir() / 'profiles').glob('*.yaml')))\n",
               cwd=empty, env=env)
    site, package, clusters, scenarios, listed = where.stdout.splitlines()
    site_packages = Path(site).resolve()
    for path in (package, clusters, scenarios):
        assert Path(path).resolve().is_relative_to(site_packages), (path, site_packages)
    assert (Path(clusters) / "versions.yaml").is_file()
    assert (Path(scenarios) / "expectations.yaml").is_file()
    assert listed == repr(sorted(p.source.name for p in all_profiles.values()))
