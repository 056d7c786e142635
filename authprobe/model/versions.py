"""Kubernetes versions, and the facts that depend on them, from ``clusters/versions.yaml``.

The file is the one home for version facts: the supported minors (the patch the offline
builder builds, the published ``kindest/node`` image), the kind release, and every
version-dependent choice of the harness and the node image builder, each as rows keyed by
the first version they hold for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError
from ..paths import clusters_dir

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


@functools.total_ordering
@dataclass(frozen=True)
class KubeVersion:
    major: int
    minor: int
    patch: int | None = None

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        match = _VERSION_RE.match(str(text).strip())
        if not match:
            raise AuthprobeError(
                f"'{text}' is not a Kubernetes version: write it as 1.34 or 1.34.12")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch) if patch is not None else None)

    @property
    def minor_str(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def as_minor(self) -> KubeVersion:
        return KubeVersion(self.major, self.minor)

    def __str__(self) -> str:
        return self.minor_str if self.patch is None else f"{self.minor_str}.{self.patch}"

    @property
    def tag(self) -> str:
        """The Git tag form, e.g. v1.34.12."""
        return f"v{self}"

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch if self.patch is not None else -1)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KubeVersion):
            return NotImplemented
        return self._key() < other._key()


def version_key(text: str) -> tuple:
    """Sort key for version text: numeric when it parses, after the numeric ones if not."""
    match = _VERSION_RE.match(str(text))
    if not match:
        return (1, str(text))
    major, minor, patch = match.groups()
    return (0, int(major), int(minor), int(patch) if patch else -1)


@dataclass(frozen=True)
class Ranged:
    """Rows keyed by ``since``: a version takes the nearest row at or below its minor."""

    rows: tuple[tuple[KubeVersion, Any], ...]

    @classmethod
    def parse(cls, rows: Any, where: str, bad) -> Ranged:
        """``rows`` is a list of mappings with ``since``; ``bad(where, what)`` raises."""
        if not isinstance(rows, list) or not rows:
            bad(where, "must be a non-empty list of rows, each with 'since'")
        parsed = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or "since" not in row:
                bad(f"{where}[{index}]", "each row is a mapping with a 'since' version")
            try:
                since = KubeVersion.parse(str(row["since"]))
            except AuthprobeError as err:
                bad(f"{where}[{index}]", str(err))
            parsed.append((since, {k: v for k, v in row.items() if k != "since"}))
        order = [since for since, _ in parsed]
        if order != sorted(order) or len(set(order)) != len(order):
            bad(where, "rows must be in increasing 'since' order without repeats")
        return cls(tuple(parsed))

    def at(self, version: KubeVersion) -> tuple[KubeVersion, Any] | None:
        """The row that holds for ``version`` (compared at minor and patch), or None."""
        wanted = KubeVersion(version.major, version.minor, version.patch or 0)
        chosen = None
        for since, row in self.rows:
            if KubeVersion(since.major, since.minor, since.patch or 0) <= wanted:
                chosen = (since, row)
        return chosen

    @property
    def first(self) -> KubeVersion:
        return self.rows[0][0]


@dataclass(frozen=True)
class VersionFacts:
    """Every version-dependent choice for one Kubernetes version (see versions.yaml)."""

    kubeadm_api: str
    kubeadm_patches: bool
    named_probe_port: bool
    kubelet_fail_cgroup_v1: bool
    startup_kill_delay: float  # seconds after a startup probe's threshold until the kill
    containerd: str
    containerd_systemd_cgroup: bool
    kubelet_unbind_cgroup_root: bool
    cri_tools: str
    cni_plugins: str
    build_tags: str
    go_replaces: tuple[str, ...]
    generate_openapi: bool
    wrapper_go: str | None  # go line of the Kubernetes build module; None: k/k's own
    etcd_module: str | None  # "module@version" of the etcd server; None: server/v3 at the tag


FACT_NAMES = tuple(f.name for f in fields(VersionFacts))


@dataclass(frozen=True)
class SupportedVersion:
    """One supported minor: its offline patch and its published image."""

    minor: str
    patch: KubeVersion  # built by the offline builder
    published: str | None  # kindest/node image for --image-policy pull, None when none exists
    published_patch: KubeVersion | None
    published_note: str
    facts: VersionFacts  # for ``patch``
    upgrade_to: str | None = None  # the minor kubeadm upgrades this one to (the next one)


class VersionTable:
    def __init__(self, data: Any, source: Path) -> None:
        self.source = source
        if not isinstance(data, dict):
            self._bad("", "must be a mapping with 'kind', 'default', 'minors' and 'facts'")
        for key in ("kind", "default", "minors", "facts"):
            if key not in data:
                self._bad("", f"has no '{key}'")
        self.kind = str(data["kind"])
        facts = data["facts"]
        if not isinstance(facts, dict):
            self._bad("facts", "must map fact names to rows")
        missing = sorted(set(FACT_NAMES) - set(facts))
        unknown = sorted(set(facts) - set(FACT_NAMES))
        if missing or unknown:
            self._bad("facts", f"needs exactly {', '.join(FACT_NAMES)}"
                      + (f"; missing {', '.join(missing)}" if missing else "")
                      + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        self.facts = {name: Ranged.parse(rows, f"facts.{name}", self._bad)
                      for name, rows in facts.items()}
        for name, ranged in self.facts.items():
            for since, row in ranged.rows:
                if "value" not in row:
                    self._bad(f"facts.{name} since {since}", "each row needs a 'value'")
        minors = data["minors"]
        if not isinstance(minors, dict) or not minors:
            self._bad("minors", "must map minors like \"1.34\" to their patch and image")
        self.minors: dict[str, SupportedVersion] = {}
        for minor, row in minors.items():
            self.minors[str(minor)] = self._minor(str(minor), row)
        self.default = str(data["default"])
        if self.default not in self.minors:
            self._bad("default", f"'{self.default}' is not one of the minors")
        for minor, row in self.minors.items():
            if row.upgrade_to is not None:
                self._check_upgrade(minor, row.upgrade_to)
        self.timeouts = Ranged.parse(data.get("timeouts"), "timeouts", self._bad)
        for since, row in self.timeouts.rows:
            for name, value in row.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    self._bad(f"timeouts since {since}", f"'{name}' must be a positive number "
                              "of seconds")
        first = set(self.timeouts.rows[0][1])
        for since, row in self.timeouts.rows[1:]:
            unknown = sorted(set(row) - first)
            if unknown:
                self._bad(f"timeouts since {since}", f"{', '.join(unknown)} not named in the "
                          "first row (a later row only changes timeouts the first one names)")

    def _check_upgrade(self, minor: str, target: str) -> None:
        where = f"minors.{minor}.upgrade_to"
        if target not in self.minors:
            self._bad(where, f"'{target}' is not one of the minors")
        old, new = KubeVersion.parse(minor), KubeVersion.parse(target)
        if (new.major, new.minor) != (old.major, old.minor + 1):
            self._bad(where, f"kubeadm upgrades one minor at a time: {minor} upgrades to "
                      f"{old.major}.{old.minor + 1}, not {target}")

    def _bad(self, where: str, what: str) -> None:
        at = f" at {where}" if where else ""
        raise AuthprobeError(f"malformed version file {self.source}{at}: {what}")

    def _minor(self, minor: str, row: Any) -> SupportedVersion:
        where = f"minors.{minor}"
        if not isinstance(row, dict) or "patch" not in row:
            self._bad(where, "needs 'patch' (and 'published', an image or null)")
        try:
            patch = KubeVersion.parse(str(row["patch"]))
        except AuthprobeError as err:
            self._bad(where, str(err))
        if patch.patch is None or patch.minor_str != minor:
            self._bad(where, f"patch {row['patch']} is not a patch release of {minor}")
        published = row.get("published")
        published_patch = None
        if published is not None:
            match = re.match(r"^kindest/node:v(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}$",
                             str(published))
            if not match:
                self._bad(where, f"published '{published}' is not kindest/node:v<patch>"
                          "@sha256:<digest> (pinned by digest)")
            published_patch = KubeVersion.parse(match.group(1))
            if published_patch.minor_str != minor:
                self._bad(where, f"published image {published} is not of {minor}")
        upgrade_to = row.get("upgrade_to")
        return SupportedVersion(minor, patch, published, published_patch,
                                " ".join(str(row.get("note", "")).split()),
                                self.facts_for(patch),
                                str(upgrade_to) if upgrade_to is not None else None)

    def facts_for(self, version: KubeVersion) -> VersionFacts:
        values = {}
        for name, ranged in self.facts.items():
            found = ranged.at(version)
            if found is None:
                raise AuthprobeError(
                    f"{self.source}: fact '{name}' has no row for Kubernetes {version} (its rows "
                    f"start at {ranged.first}): add one")
            value = found[1]["value"]
            values[name] = tuple(value) if isinstance(value, list) else value
        return VersionFacts(**values)

    def timeouts_for(self, version: KubeVersion) -> dict[str, float]:
        """Every named timeout at ``version``: the first row, with the later rows up to the
        version merged over it."""
        values: dict[str, float] = {}
        wanted = KubeVersion(version.major, version.minor, version.patch or 0)
        for since, row in self.timeouts.rows:
            if since == self.timeouts.first or since <= wanted:
                values.update({name: float(value) for name, value in row.items()})
        return values

    def upgrade_pair(self, minor: str, target: str) -> tuple[SupportedVersion, SupportedVersion]:
        """The minors of an upgrade from ``minor`` to ``target``, or one line saying which
        upgrades exist."""
        old, new = self.resolve(minor), self.resolve(target)
        if old.upgrade_to == new.minor:
            return old, new
        pairs = ", ".join(f"{m} -> {row.upgrade_to}" for m, row in sorted(
            self.minors.items(), key=lambda kv: version_key(kv[0])) if row.upgrade_to)
        nxt = (f"{old.minor} upgrades to {old.upgrade_to}" if old.upgrade_to else
               f"{old.minor} upgrades to no minor")
        raise AuthprobeError(f"no upgrade from Kubernetes {old.minor} to {new.minor}: kubeadm "
                             f"upgrades one minor at a time ({nxt}); the supported pairs are "
                             f"{pairs} ({self.source})")

    def resolve(self, spec: str) -> SupportedVersion:
        """Map "1.34" or "1.34.12" to its supported minor, or fail with one clear line."""
        asked = KubeVersion.parse(spec)
        row = self.minors.get(asked.minor_str)
        known = ", ".join(sorted(self.minors, key=version_key))
        if row is None:
            raise AuthprobeError(
                f"Kubernetes {spec} is not supported: choose one of {known} (or add the minor "
                f"to {self.source})")
        if asked.patch is not None and asked not in (row.patch, row.published_patch):
            published = f" or {row.published_patch} (published)" if row.published_patch else ""
            raise AuthprobeError(
                f"Kubernetes {spec} is not a pinned patch of {asked.minor_str}: use "
                f"{asked.minor_str}, {row.patch} (offline build){published}")
        return row


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> VersionTable:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise AuthprobeError(f"cannot read version file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise AuthprobeError(f"version file {path} is not valid YAML: {err}") from None
    return VersionTable(data, path)


def versions_file() -> Path:
    return clusters_dir() / "versions.yaml"


def version_table() -> VersionTable:
    return _load(versions_file())


def resolve(spec: str) -> SupportedVersion:
    return version_table().resolve(spec)


def timeouts_for(version: KubeVersion) -> dict[str, float]:
    return version_table().timeouts_for(version)


def default_minor() -> str:
    return version_table().default


def supported() -> dict[str, SupportedVersion]:
    return version_table().minors
