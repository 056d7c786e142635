"""Expected outcomes as data: per scenario, profile and Kubernetes version range.

The file (``scenarios/expectations.yaml``) maps scenario -> profile -> rows. Each row
starts at a version (``since``) and holds until the next row; a version without a row
of its own takes the nearest lower one. A top-level ``profiles`` section says from
which version a profile exists at all (rows with ``na`` mark versions where it cannot
be run), and applies to every scenario.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import AuthprobeError
from .paths import SCENARIOS_DIR
from .versions import KubeVersion

EXPECTATIONS_FILE = SCENARIOS_DIR / "expectations.yaml"

# Fields a row may hold. Anything else is a typo and is rejected when the file loads.
FIELDS = {
    "since": "first Kubernetes version the row applies to",
    "na": "the scenario cannot apply on these versions; the value says why",
    "note": "free text shown in reports",
    "seen": "what a live run observed, when that settled an unverified fact",
    "comes_up": "whether the control plane comes up (bool)",
    "exit_code": "exit code of the kube-apiserver container when it must not come up",
    "log_message": "fragment of the apiserver's last log lines when it must not come up",
    "status": "expected HTTP status code",
    "message": "fragment expected in the Status message (or body)",
    "www_authenticate": "whether a 401 carries a WWW-Authenticate header (bool)",
    "status_after": "expected HTTP status after the cluster-admin binding",
    "restart_shape": "shape of the restart series: flat, climbs or never-up",
    "first_restart_by": "the first restart must be seen by this many seconds",
    "ever_ready": "whether kube-apiserver is Ready at least once in the window (bool)",
}


@dataclass(frozen=True)
class Expectation:
    """The row that applies to one (profile, scenario, version)."""

    profile: str
    scenario: str
    since: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def na(self) -> str | None:
        return self.values.get("na")

    @property
    def expected_failure(self) -> bool:
        """Whether passing means seeing something fail as it must (the story's failures)."""
        return self.values.get("comes_up") is False or self.values.get("restart_shape") in (
            "climbs",
            "never-up",
        )

    def __getattr__(self, name: str) -> Any:
        if name in FIELDS:
            return self.values.get(name)
        raise AttributeError(name)

    def to_json(self) -> str:
        return json.dumps(
            {"profile": self.profile, "scenario": self.scenario, "since": self.since,
             **self.values},
            sort_keys=True,
        )


@dataclass(frozen=True)
class _Row:
    since: KubeVersion
    values: dict[str, Any]


class ExpectationTable:
    def __init__(self, data: Any, source: str) -> None:
        self.source = source
        if not isinstance(data, dict) or "scenarios" not in data:
            self._bad("", "the top level must be a mapping with a 'scenarios' key")
        self.profiles = {
            name: self._rows(f"profiles.{name}", rows)
            for name, rows in (data.get("profiles") or {}).items()
        }
        if not isinstance(data["scenarios"], dict):
            self._bad("scenarios", "must map scenario names to profiles")
        self.scenarios: dict[str, dict[str, list[_Row]]] = {}
        for scenario, per_profile in data["scenarios"].items():
            if not isinstance(per_profile, dict):
                self._bad(f"scenarios.{scenario}", "must map profile names to lists of rows")
            self.scenarios[scenario] = {
                profile: self._rows(f"scenarios.{scenario}.{profile}", rows)
                for profile, rows in per_profile.items()
            }

    def _bad(self, where: str, what: str) -> None:
        at = f" at {where}" if where else ""
        raise AuthprobeError(f"malformed expectation file {self.source}{at}: {what}")

    def _rows(self, where: str, rows: Any) -> list[_Row]:
        if not isinstance(rows, list) or not rows:
            self._bad(where, "must be a non-empty list of rows, each with 'since'")
        parsed = []
        for index, row in enumerate(rows):
            here = f"{where}[{index}]"
            if not isinstance(row, dict) or "since" not in row:
                self._bad(here, "each row is a mapping with a 'since' version")
            unknown = sorted(set(row) - set(FIELDS))
            if unknown:
                self._bad(here, f"unknown field(s) {', '.join(unknown)}; known: "
                          + ", ".join(sorted(FIELDS)))
            try:
                since = KubeVersion.parse(str(row["since"]))
            except AuthprobeError as err:
                self._bad(here, str(err))
            if row.get("restart_shape") not in (None, "flat", "climbs", "never-up"):
                self._bad(here, "restart_shape must be flat, climbs or never-up")
            values = {k: v for k, v in row.items() if k != "since"}
            parsed.append(_Row(since, values))
        versions = [r.since for r in parsed]
        if versions != sorted(versions) or len(set(versions)) != len(versions):
            self._bad(where, "rows must be in increasing 'since' order without repeats")
        return parsed

    @staticmethod
    def _pick(rows: list[_Row], version: KubeVersion) -> _Row | None:
        chosen = None
        minor_level = KubeVersion(version.major, version.minor, version.patch or 0)
        for row in rows:
            if KubeVersion(row.since.major, row.since.minor, row.since.patch or 0) <= minor_level:
                chosen = row
        return chosen

    def lookup(self, profile: str, scenario: str, version: KubeVersion) -> Expectation:
        gate = self.profiles.get(profile)
        if gate:
            row = self._pick(gate, version)
            if row is not None and row.values.get("na"):
                return Expectation(profile, scenario, str(row.since), dict(row.values))
        per_profile = self.scenarios.get(scenario)
        if per_profile is None:
            raise AuthprobeError(
                f"scenario '{scenario}' has no expectations: add it under 'scenarios' in "
                f"{self.source}"
            )
        rows = per_profile.get(profile)
        if rows is None:
            raise AuthprobeError(
                f"scenario '{scenario}' has no expectations for profile '{profile}': add a row "
                f"in {self.source}"
            )
        row = self._pick(rows, version)
        if row is None:
            raise AuthprobeError(
                f"scenario '{scenario}', profile '{profile}' has no row for Kubernetes "
                f"{version} (its rows start at {rows[0].since}) in {self.source}"
            )
        return Expectation(profile, scenario, str(row.since), dict(row.values))

    def scenario_names(self) -> list[str]:
        return list(self.scenarios)


def load(path: Path = EXPECTATIONS_FILE) -> ExpectationTable:
    try:
        text = path.read_text()
    except OSError as err:
        raise AuthprobeError(f"cannot read expectation file {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise AuthprobeError(f"expectation file {path} is not valid YAML{where}: "
                             f"{getattr(err, 'problem', err)}") from None
    return ExpectationTable(data, str(path))


@functools.lru_cache(maxsize=1)
def _default_table() -> ExpectationTable:
    return load(Path(os.environ.get("AUTHPROBE_EXPECTATIONS_FILE", EXPECTATIONS_FILE)))


def lookup(profile: str, scenario: str, version: KubeVersion) -> Expectation:
    """The expectation for one cell, from ``scenarios/expectations.yaml``.

    ``AUTHPROBE_EXPECTATIONS_FILE`` names another file.
    """
    return _default_table().lookup(profile, scenario, version)
