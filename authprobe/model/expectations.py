"""Expected outcomes as data: per scenario, profile and Kubernetes version range.

An expectation file maps ``scenarios`` -> scenario -> profile -> rows. Each row starts at
a version (``since``) and holds until the next row; a version without a row of its own
takes the nearest lower one. The shipped file is ``scenarios/expectations.yaml``; a team
adds rows for its own scenarios and profiles in files of its own (``--expectations``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError
from . import observations
from .observations import Declarations
from .versions import KubeVersion, Ranged

# Fields every row may hold besides the predictions, with their meaning.
META_FIELDS = {
    "na": "the scenario does not apply on these versions; the value says why",
    "note": "where the row's facts come from (changelog, source, a live run)",
    "seen": "patch releases a live run showed this row on (empty: not yet seen live)",
}


def fields_of(declarations: Declarations) -> dict[str, str]:
    """The fields a row may hold: the meta fields, and each expectation field the observation
    declarations name (with what it predicts). Anything else is a typo and is rejected."""
    return {**META_FIELDS, **declarations.expectation_fields()}


# The fields of the shipped declarations (scenarios/observations.yaml).
FIELDS = fields_of(observations.shipped())
SHAPES = ("flat", "climbs", "never-up")
# A cause of "unknown" fails whatever the row says, so no row predicts it.
CAUSES = ("none", "exit", "probe-timeout", "probe-mixed")  # and probe-<HTTP status>
KILLERS = ("startup", "liveness", None)  # the probes whose failures make the kubelet kill


@dataclass(frozen=True)
class Expectation:
    """The row that applies to one (profile, scenario, version)."""

    profile: str
    scenario: str
    since: str
    values: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    known: frozenset[str] = frozenset(FIELDS)

    @property
    def na(self) -> str | None:
        return self.values.get("na")

    @property
    def expected_failure(self) -> bool:
        """Whether passing means seeing something fail as it must (the story's failures)."""
        return is_expected_failure(self.values)

    def get(self, name: str) -> Any:
        if name not in self.known:
            raise KeyError(f"'{name}' is not an expectation field")
        return self.values.get(name)

    def __getattr__(self, name: str) -> Any:
        if name != "known" and name in self.known:
            return self.values.get(name)
        raise AttributeError(name)

    def to_dict(self) -> dict:
        return {"profile": self.profile, "scenario": self.scenario, "since": self.since,
                **self.values}


def is_expected_failure(values: dict) -> bool:
    """A row that predicts the story's failures: a control plane that does not come up, an
    apiserver that restarts, a change of the profile an upgrade does not keep."""
    return (values.get("comes_up") is False
            or values.get("restart_shape") in ("climbs", "never-up")
            or values.get("flags_kept") is False or values.get("probes_kept") is False)


class ExpectationTable:
    """Rows of one or more expectation files; a (scenario, profile) may appear once."""

    def __init__(self) -> None:
        self.scenarios: dict[str, dict[str, Ranged]] = {}
        self.sources: dict[tuple[str, str], str] = {}
        self.observations = Declarations(observations.shipped())
        self.fields = fields_of(self.observations)

    def add(self, data: Any, source: str) -> None:
        def bad(where: str, what: str) -> None:
            at = f" at {where}" if where else ""
            raise AuthprobeError(f"malformed expectation file {source}{at}: {what}")

        if not isinstance(data, dict) or "scenarios" not in data or set(data) - {
                "scenarios", "observations"}:
            bad("", "the top level must be a mapping with a 'scenarios' key (and, for fields "
                "of your own scenarios, an 'observations' key)")
        if "observations" in data:
            self.observations.add(data["observations"], source)
            self.fields = fields_of(self.observations)
        if not isinstance(data["scenarios"], dict):
            bad("scenarios", "must map scenario names to profiles")
        for scenario, per_profile in data["scenarios"].items():
            if not isinstance(per_profile, dict):
                bad(f"scenarios.{scenario}", "must map profile names to lists of rows")
            for profile, rows in per_profile.items():
                where = f"scenarios.{scenario}.{profile}"
                ranged = Ranged.parse(rows, where, bad)
                for since, row in ranged.rows:
                    _check_row(row, f"{where} since {since}", bad, self.fields)
                key = (str(scenario), str(profile))
                if key in self.sources:
                    bad(where, f"already given in {self.sources[key]}; a scenario's rows for a "
                        "profile live in one file")
                self.scenarios.setdefault(str(scenario), {})[str(profile)] = ranged
                self.sources[key] = source

    def lookup(self, profile: str, scenario: str, version: KubeVersion) -> Expectation:
        per_profile = self.scenarios.get(scenario)
        if per_profile is None:
            raise AuthprobeError(
                f"scenario '{scenario}' has no expectations: add it under 'scenarios' in an "
                "expectation file")
        ranged = per_profile.get(profile)
        source = self.sources.get((scenario, profile), "")
        if ranged is None:
            raise AuthprobeError(
                f"scenario '{scenario}' has no expectations for profile '{profile}': add rows "
                "for it in an expectation file")
        found = ranged.at(version)
        if found is None:
            raise AuthprobeError(
                f"scenario '{scenario}', profile '{profile}' has no row for Kubernetes {version} "
                f"(its rows start at {ranged.first}) in {source}")
        since, row = found
        return Expectation(profile, scenario, str(since), dict(row), source,
                           frozenset(self.fields))

    def pairs(self) -> list[tuple[str, str, str]]:
        """(scenario, profile, source file) of every entry, in file order."""
        return [(s, p, self.sources[(s, p)]) for s, per in self.scenarios.items() for p in per]


def _check_row(row: dict, where: str, bad, fields: dict[str, str]) -> None:
    unknown = sorted(set(row) - set(fields))
    if unknown:
        bad(where, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    if row.get("restart_shape") not in (None, *SHAPES):
        bad(where, f"restart_shape must be one of {', '.join(SHAPES)}")
    causes = row.get("restart_cause")
    for cause in causes if isinstance(causes, list) else [causes]:
        if cause not in (None, *CAUSES) and not re.fullmatch(r"probe-\d{3}", str(cause)):
            bad(where, f"restart_cause must be one of {', '.join(CAUSES)} or probe-<status>")
    within = row.get("first_restart_at")
    if within is not None and not (isinstance(within, list) and len(within) == 2 and all(
            isinstance(v, (int, float)) for v in within) and within[0] <= within[1]):
        bad(where, "first_restart_at must be a range [low, high] of seconds")
    killers = row.get("killed_by")
    for killer in killers if isinstance(killers, list) else [killers]:
        if killer not in KILLERS:
            bad(where, "killed_by must be startup, liveness or null (or a list of them)")
    seen = row.get("seen")
    if seen is not None and (not isinstance(seen, list)
                             or not all(isinstance(v, str) for v in seen)):
        bad(where, "seen must be a list of patch versions such as [\"1.34.12\"]")
    for version in seen or ():
        try:
            parsed = KubeVersion.parse(version)
        except AuthprobeError as err:
            bad(where, f"seen: {err}")
        if parsed.patch is None:
            bad(where, f"seen: '{version}' must be a patch release")
    if "na" in row and not str(row["na"] or "").strip():
        bad(where, "na needs a reason")


def load_files(paths: list[Path]) -> ExpectationTable:
    table = ExpectationTable()
    for path in paths:
        try:
            text = path.read_text()
        except OSError as err:
            raise AuthprobeError(f"cannot read expectation file {path}: {err.strerror}"
                                 ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise AuthprobeError(f"expectation file {path} is not valid YAML{where}: "
                                 f"{getattr(err, 'problem', err)}") from None
        table.add(data, str(path))
    return table


def dumps(values: dict) -> str:
    return json.dumps(values, sort_keys=True)
