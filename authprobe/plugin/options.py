"""The plugin's options (group "authprobe"), and what they resolve to for one run.

Every option has an environment variable for CI; the command line wins over the
environment, which wins over the ini file and the defaults (for --set-timeout, name by name).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..errors import AuthprobeError
from ..harness.images import POLICIES
from ..model import expectations as _expectations
from ..model import profiles as _profiles
from ..model import timeouts as _timeouts
from ..model.versions import default_minor, resolve, supported, version_key, version_table
from ..paths import clusters_dir, scenarios_dir

ENV = {
    "k8s_version": "AUTHPROBE_K8S_VERSION",
    "profile": "AUTHPROBE_PROFILE",
    "image_policy": "AUTHPROBE_IMAGE_POLICY",
    "kind_bin": "AUTHPROBE_KIND_BIN",
    "kind_image": "AUTHPROBE_KIND_IMAGE",
    "keep_cluster": "AUTHPROBE_KEEP_CLUSTER",
    "reuse_clusters": "AUTHPROBE_REUSE_CLUSTERS",
    "observe_window": "AUTHPROBE_OBSERVE_WINDOW",
    "reports_dir": "AUTHPROBE_REPORTS_DIR",
    "profiles_dir": "AUTHPROBE_PROFILES_DIRS",
    "expectations": "AUTHPROBE_EXPECTATIONS",
    "upgrade_to": "AUTHPROBE_UPGRADE_TO",
    "timeouts": "AUTHPROBE_TIMEOUTS",
    "fail_on_unjudged": "AUTHPROBE_FAIL_ON_UNJUDGED",
}
INI_PROFILES = "authprobe_profiles"
INI_EXPECTATIONS = "authprobe_expectations"
INI_TIMEOUTS = "authprobe_timeouts"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("authprobe", "authprobe: kind clusters for the scenarios")
    add = group.addoption
    add("--k8s-version", action="append", default=None, metavar="VERSION",
        help="Kubernetes minor or pinned patch to run: repeatable or a comma list, 'all' for "
             f"every supported minor (default from clusters/versions.yaml; {ENV['k8s_version']})")
    add("--upgrade-to", default=None, metavar="MINOR",
        help="upgrade every cluster in place to this minor ('next': the one after "
             "--k8s-version) with kubeadm once its scenarios ran, then run them again on the "
             f"upgraded cluster ({ENV['upgrade_to']})")
    add("--profile", action="append", default=None, metavar="ID",
        help=f"cluster profile to run: repeatable or a comma list (default all; "
             f"{ENV['profile']})")
    add("--image-policy", default=None, choices=POLICIES,
        help="node image: auto (default) = a local image, else the published kindest/node when "
             "the registry answers, else the offline build; local, pull or build = only that "
             f"source ({ENV['image_policy']})")
    add("--kind-bin", default=None, metavar="PATH",
        help=f"kind binary to use instead of the pinned one ({ENV['kind_bin']})")
    add("--kind-image", default=None, metavar="IMAGE",
        help=f"node image to use for the one version of the run ({ENV['kind_image']})")
    add("--keep-cluster", action="store_true", default=None,
        help=f"keep the clusters after the run for a look ({ENV['keep_cluster']})")
    add("--reuse-clusters", action="store_true", default=None,
        help="keep clusters after the run and reuse them in the next run of this checkout "
             f"({ENV['reuse_clusters']})")
    add("--observe-window", default=None, metavar="SECONDS",
        help="seconds to watch kube-apiserver restarts (default: the apiserver's probe budget "
             f"plus a margin; {ENV['observe_window']})")
    add("--reports-dir", default=None, metavar="DIR",
        help=f"where run reports go (default reports/ in the rootdir; {ENV['reports_dir']})")
    add("--profiles-dir", action="append", default=None, metavar="DIR",
        help="a folder of your own profiles, used beside the shipped ones (repeatable; ini "
             f"{INI_PROFILES}; {ENV['profiles_dir']})")
    add("--expectations", action="append", default=None, metavar="FILE",
        help="an expectation file of your own, used beside the shipped one (repeatable; ini "
             f"{INI_EXPECTATIONS}; {ENV['expectations']})")
    add("--fail-on-unjudged", action="store_true", default=None,
        help="fail the run when a cell has no expectation row for its profile and version "
             "(it runs and is shown as not judged either way; "
             f"{ENV['fail_on_unjudged']})")
    add("--set-timeout", action="append", default=None, metavar="NAME=SECONDS",
        dest="timeouts",
        help="override a named timeout (a shipped one, or one a lifecycle step declares): "
             "repeatable or a comma list (ini "
             f"{INI_TIMEOUTS}, one NAME=SECONDS a line; {ENV['timeouts']}); the names: "
             "authprobe/model/timeouts.py")
    parser.addini(INI_PROFILES, "folders of your own cluster profiles", type="paths",
                  default=[])
    parser.addini(INI_EXPECTATIONS, "expectation files of your own", type="paths", default=[])
    parser.addini(INI_TIMEOUTS, "named timeouts of your own, one NAME=SECONDS a line",
                  type="linelist", default=[])


def _truthy(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


def _split(values) -> list[str]:
    out = []
    for value in values or []:
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return out


def given(config: pytest.Config) -> bool:
    """Whether the run names any authprobe setting (then it is checked at once)."""
    if any(config.getoption(name, default=None) for name in ENV):
        return True
    if any(os.environ.get(var) for var in ENV.values()):
        return True
    return bool(config.getini(INI_PROFILES) or config.getini(INI_EXPECTATIONS)
                or config.getini(INI_TIMEOUTS))


@dataclass
class Selection:
    """Every option of a run, resolved and checked."""

    minors: list[str]
    profiles: dict[str, _profiles.Profile]  # the ones selected
    all_profiles: dict[str, _profiles.Profile]
    expectations: _expectations.ExpectationTable
    expectation_files: list[Path]
    policy: str
    kind_bin: Path | None
    kind_image: str | None
    keep: bool
    reuse: bool
    observe_window: float | None
    reports_root: Path
    upgrade_to: str | None = None  # the minor every cluster is upgraded to, in place
    timeouts: dict[str, float] = field(default_factory=dict)  # overrides, by name
    fail_on_unjudged: bool = False  # a cell no row judges fails the run


def _paths(config: pytest.Config, name: str, ini: str) -> list[Path]:
    base = Path(config.invocation_params.dir)
    values = _split(config.getoption(name, default=None)) or [
        p for p in os.environ.get(ENV[name], "").split(os.pathsep) if p]
    paths = [Path(v) if Path(v).is_absolute() else base / v for v in values]
    return paths or [Path(p) for p in config.getini(ini)]


def _window(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise AuthprobeError(f"--observe-window '{text}' is not a number of seconds") from None
    if value <= 0:
        raise AuthprobeError("--observe-window must be a positive number of seconds")
    return value


def _timeout_overrides(config: pytest.Config) -> dict[str, float]:
    """Named timeouts the run overrides: the ini file's, the environment's over them, the
    command line's over both. Names are checked once the run's lifecycle steps are known."""
    return {
        **_timeouts.parse_overrides(config.getini(INI_TIMEOUTS), f"ini {INI_TIMEOUTS}"),
        **_timeouts.parse_overrides([os.environ.get(ENV["timeouts"], "")], ENV["timeouts"]),
        **_timeouts.parse_overrides(config.getoption("timeouts", default=None) or [],
                                    "--set-timeout"),
    }


def _minors(config: pytest.Config) -> list[str]:
    asked = (_split(config.getoption("k8s_version", default=None))
             or _split([os.environ.get(ENV["k8s_version"], "")]) or [default_minor()])
    if any(spec.lower() == "all" for spec in asked):
        return sorted(supported(), key=version_key)
    return list(dict.fromkeys(resolve(spec).minor for spec in asked))


def _upgrade_to(text: str | None, minors: list[str]) -> str | None:
    """The minor of --upgrade-to, checked against the run's one minor and the upgrades the
    version facts support."""
    if not text:
        return None
    if len(minors) != 1:
        raise AuthprobeError(f"--upgrade-to {text} upgrades the clusters of one minor: pass a "
                             f"single --k8s-version with it (not {', '.join(minors)})")
    if text == "next":
        found = resolve(minors[0]).upgrade_to
        if found is None:
            raise AuthprobeError(f"--upgrade-to next: Kubernetes {minors[0]} upgrades to no "
                                 "supported minor (clusters/versions.yaml upgrade_to)")
        text = found
    return version_table().upgrade_pair(minors[0], text)[1].minor


def _reports_root(config: pytest.Config) -> Path:
    given_dir = config.getoption("reports_dir", default=None) or os.environ.get(
        ENV["reports_dir"])
    root = Path(given_dir) if given_dir else config.rootpath / "reports"
    root = root if root.is_absolute() else Path(config.invocation_params.dir) / root
    missing = [path for path in (root, *root.parents) if not path.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-check-"):
            pass
    except OSError as err:
        raise AuthprobeError(f"the reports folder {root} is not writable ({err.strerror or err})"
                             ": pass --reports-dir with a folder you can write") from None
    finally:
        # Only a check: a run that writes no report (it runs no scenario) leaves no folder.
        for path in missing:
            with contextlib.suppress(OSError):
                path.rmdir()
    return root


def resolve_selection(config: pytest.Config) -> Selection:
    """Resolve and check every option; any problem is one AuthprobeError line."""
    def opt(name):
        return config.getoption(name, default=None)

    profile_dirs = [clusters_dir() / "profiles", *_paths(config, "profiles_dir", INI_PROFILES)]
    all_profiles = _profiles.load_dirs(profile_dirs)
    names = _split(opt("profile")) or _split([os.environ.get(ENV["profile"], "")])
    for name in names:
        if name not in all_profiles:
            raise AuthprobeError(f"unknown profile '{name}': choose from "
                                 f"{', '.join(all_profiles)} (or add {name}.yaml to a profiles "
                                 "folder)")
    minors = _minors(config)
    upgrade_to = _upgrade_to(opt("upgrade_to") or os.environ.get(ENV["upgrade_to"]), minors)
    selected = {n: all_profiles[n] for n in (names or [
        n for n, p in all_profiles.items() if upgrade_to or not p.upgrade_only])}
    files = [scenarios_dir() / "expectations.yaml",
             *_paths(config, "expectations", INI_EXPECTATIONS)]
    table = _expectations.load_files(files)
    policy = opt("image_policy") or os.environ.get(ENV["image_policy"]) or "auto"
    if policy not in POLICIES:
        raise AuthprobeError(f"image policy '{policy}' is unknown: use one of "
                             f"{', '.join(POLICIES)}")
    kind_bin = opt("kind_bin") or os.environ.get(ENV["kind_bin"])
    if kind_bin and not Path(kind_bin).exists():
        raise AuthprobeError(f"kind binary {kind_bin} does not exist: fix --kind-bin (or "
                             f"{ENV['kind_bin']}), or leave it unset to use the pinned kind")
    kind_image = opt("kind_image") or os.environ.get(ENV["kind_image"]) or None
    if kind_image and len(minors) > 1:
        raise AuthprobeError("--kind-image names one node image: pass a single --k8s-version "
                             "with it")
    reuse = bool(opt("reuse_clusters")) or _truthy(os.environ.get(ENV["reuse_clusters"]))
    if reuse and upgrade_to:
        raise AuthprobeError("--reuse-clusters keeps clusters for the next run of the same "
                             "version, and --upgrade-to changes their version: use "
                             "--keep-cluster to keep the upgraded clusters for a look")
    return Selection(
        minors=minors, profiles=selected, all_profiles=all_profiles, expectations=table,
        expectation_files=files, policy=policy, kind_bin=Path(kind_bin) if kind_bin else None,
        kind_image=kind_image,
        keep=bool(opt("keep_cluster")) or _truthy(os.environ.get(ENV["keep_cluster"])),
        reuse=reuse,
        observe_window=_window(opt("observe_window") or os.environ.get(ENV["observe_window"])),
        reports_root=_reports_root(config), upgrade_to=upgrade_to,
        timeouts=_timeout_overrides(config),
        fail_on_unjudged=(bool(opt("fail_on_unjudged"))
                          or _truthy(os.environ.get(ENV["fail_on_unjudged"]))),
    )
