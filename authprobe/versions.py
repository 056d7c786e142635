"""Kubernetes versions: parsing, the supported list, and per-version facts kept as data."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import AuthprobeError
from .paths import CLUSTERS_DIR

VERSIONS_FILE = CLUSTERS_DIR / "versions.yaml"
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
                f"'{text}' is not a Kubernetes version: write it as 1.34 or 1.34.12"
            )
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch) if patch is not None else None)

    @property
    def minor_str(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        if self.patch is None:
            return self.minor_str
        return f"{self.major}.{self.minor}.{self.patch}"

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


@dataclass(frozen=True)
class SupportedVersion:
    version: KubeVersion
    published_image: str

    @property
    def kubeadm_api(self) -> str:
        """kind renders kubeadm v1beta4 from 1.36 on, v1beta3 before."""
        return "kubeadm.k8s.io/v1beta4" if self.version >= KubeVersion(1, 36, 0) else (
            "kubeadm.k8s.io/v1beta3"
        )


@functools.lru_cache(maxsize=4)
def _load(path: Path = VERSIONS_FILE) -> tuple[dict[str, SupportedVersion], str]:
    data = yaml.safe_load(path.read_text())
    table = {}
    for minor, row in data["versions"].items():
        version = KubeVersion.parse(row["patch"])
        table[str(minor)] = SupportedVersion(version, row["published_image"])
    return table, str(data["default"])


def supported() -> dict[str, SupportedVersion]:
    return _load()[0]


def default_version() -> str:
    return _load()[1]


def resolve(spec: str) -> SupportedVersion:
    """Map "1.34" or "1.34.12" to the supported patch release, or fail with one clear line."""
    asked = KubeVersion.parse(spec)
    table = supported()
    row = table.get(asked.minor_str)
    known = ", ".join(sorted(table, key=lambda m: KubeVersion.parse(m)))
    if row is None:
        raise AuthprobeError(
            f"Kubernetes {spec} is not supported: choose one of {known} "
            f"(or add it to {VERSIONS_FILE.relative_to(VERSIONS_FILE.parents[1])})"
        )
    if asked.patch is not None and asked != row.version:
        raise AuthprobeError(
            f"Kubernetes {spec} is not the pinned patch for {asked.minor_str}: use "
            f"{row.version} (pinned in clusters/versions.yaml)"
        )
    return row
