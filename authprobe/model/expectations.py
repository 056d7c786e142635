"""Expected outcomes as data: per scenario, profile and Kubernetes version range.

An expectation file maps ``scenarios`` -> scenario -> profile -> rows. Each row starts at
a version (``since``) and holds until the next row; a version without a row of its own
takes the nearest lower one. The shipped file is ``scenarios/expectations.yaml``; a team
adds rows for its own scenarios and profiles in files of its own (``--expectations``).

A field whose observation is declared ``match: changes`` (a set) may be written as the
changes a row's minor makes against the rows before it; a version's row then predicts what
the rows up to it compose (see :mod:`.setchanges`).

A file of recorded rows (``authprobe rows record``) maps ``recorded`` -> scenario -> profile
-> rows instead: each of its rows says what a run saw (``recorded: {run, version}``), not
what facts predict, and only such a file holds rows so marked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError
from . import observations, predictions, setchanges
from .observations import Declarations
from .versions import KubeVersion, Ranged

# Fields every row may hold besides the predictions, with their meaning.
META_FIELDS = {
    "na": "the scenario does not apply on these versions; the value says why",
    "note": "where the row's facts come from (changelog, source, a live run)",
    "seen": "patch releases a live run showed this row on (empty: not yet seen live)",
    "recorded": "the run (id) and patch version a recorded row was taken from (authprobe rows "
                "record): its fields are what that run saw, not a prediction from facts",
    "alternatives": "outcomes that each hold as a whole: a list of {name, note (with the "
                    "upstream issue), fields}; a cell matches the row when the row's other "
                    "fields and every field of one alternative hold",
}
RECORDED = "recorded"
# What an alternative holds besides the fields it predicts.
ALTERNATIVE_KEYS = {"name": "what the alternative is called in cells and the diff",
                    "note": "why the cluster may show it, with the upstream issue"}


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

    @property
    def alternatives(self) -> list[Alternative]:
        return alternatives_of(self.values)

    def choose(self, observed: dict, declarations: Declarations) -> str | None:
        """The name of the alternative the observed values take (see ``taken``)."""
        return taken(self.values, observed, declarations)

    def taking(self, name: str) -> Expectation:
        """The row as it reads when the cell took the alternative ``name``: the row's own
        fields and the alternative's."""
        return Expectation(self.profile, self.scenario, self.since,
                           with_alternative(self.values, name), self.source, self.known)


@dataclass(frozen=True)
class Alternative:
    """One of a row's alternative outcomes: fields that hold together, and why."""

    name: str
    note: str
    values: dict[str, Any]

    def reads(self) -> str:
        """``name (field value, ...)``, for a cell's message."""
        fields = ", ".join(f"{k} {json.dumps(v)}" for k, v in self.values.items())
        return f"{self.name} ({fields})"


def alternatives_of(values: dict) -> list[Alternative]:
    """The alternatives of a row (none when it lists none)."""
    return [Alternative(str(item["name"]), str(item.get("note", "")),
                        {k: v for k, v in item.items() if k not in ALTERNATIVE_KEYS})
            for item in values.get("alternatives") or ()]


def with_alternative(values: dict, name: str | None) -> dict:
    """The row's fields with those of its alternative ``name`` (without its list of
    alternatives); the row's own fields alone when ``name`` is none of them."""
    common = {k: v for k, v in values.items() if k != "alternatives"}
    for alternative in alternatives_of(values):
        if alternative.name == name:
            return {**common, **alternative.values}
    return common


def holds(alternative: Alternative, observed: dict, declarations: Declarations) -> bool:
    """Whether every field of the alternative predicts what the cell observed: each field
    through the observations declared to read it, at least one of them recorded."""
    for name, value in alternative.values.items():
        readers = [o for o in declarations.predicting(name) if o.name in observed]
        if not readers or not all(o.predicts(value, observed[o.name]) for o in readers):
            return False
    return True


def taken(values: dict, observed: dict, declarations: Declarations) -> str | None:
    """The name of the first of the row's alternatives that holds for the observed values;
    None when the row lists none, or none holds."""
    for alternative in alternatives_of(values):
        if holds(alternative, observed, declarations):
            return alternative.name
    return None


# The fields that decide whether a row predicts a failure of the story.
OUTCOME_FIELDS = ("comes_up", "restart_shape", "flags_kept", "probes_kept")


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

        if not isinstance(data, dict) or len(set(data) & {"scenarios", RECORDED}) != 1 or set(
                data) - {"scenarios", "observations", RECORDED}:
            bad("", "the top level must be a mapping with a 'scenarios' key (and, for fields "
                "of your own scenarios, an 'observations' key), or, in a file of recorded rows, "
                "a 'recorded' key")
        if "observations" in data:
            self.observations.add(data["observations"], source)
            self.fields = fields_of(self.observations)
        top = RECORDED if RECORDED in data else "scenarios"
        if not isinstance(data[top], dict):
            bad(top, "must map scenario names to profiles")
        for scenario, per_profile in data[top].items():
            if not isinstance(per_profile, dict):
                bad(f"scenarios.{scenario}", "must map profile names to lists of rows")
            for profile, rows in per_profile.items():
                where = f"{top}.{scenario}.{profile}"
                ranged = Ranged.parse(rows, where, bad)
                for since, row in ranged.rows:
                    _check_recorded(row, since, f"{where} since {since}", bad,
                                    top == RECORDED)
                    _check_row(row, f"{where} since {since}", bad, self.fields)
                    _check_rules(row, f"{where} since {since}", bad, self.observations)
                for name in self.set_fields():
                    _check_set_field(ranged, name, where, bad)
                key = (str(scenario), str(profile))
                if key in self.sources:
                    bad(where, f"already given in {self.sources[key]}; a scenario's rows for a "
                        "profile live in one file")
                self.scenarios.setdefault(str(scenario), {})[str(profile)] = ranged
                self.sources[key] = source

    def row_for(self, profile: str, scenario: str, version: KubeVersion) -> Expectation | None:
        """The row that holds for the version, or None where the files give none."""
        ranged = (self.scenarios.get(scenario) or {}).get(profile)
        if ranged is None or ranged.at(version) is None:
            return None
        return self.lookup(profile, scenario, version)

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
        values = setchanges.with_composed(
            row, (earlier for at, earlier in ranged.rows if at <= since), self.set_fields())
        return Expectation(profile, scenario, str(since), values, source,
                           frozenset(self.fields))

    def set_fields(self) -> list[str]:
        """The row fields that predict a set and may be written as a minor's changes."""
        return setchanges.fields(self.observations)

    def pairs(self) -> list[tuple[str, str, str]]:
        """(scenario, profile, source file) of every entry, in file order."""
        return [(s, p, self.sources[(s, p)]) for s, per in self.scenarios.items() for p in per]


def _check_recorded(row: dict, since: KubeVersion, where: str, bad,
                    in_recorded_file: bool) -> None:
    """A recorded row names the run and patch it was recorded from, starts at that patch's
    minor, and lives in a file of recorded rows; a row of a file of rows from facts is not
    marked so."""
    if not isinstance(row, dict):
        return  # Ranged.parse has said it
    mark = row.get(RECORDED)
    if not in_recorded_file:
        if mark is not None:
            bad(where, "a row marked 'recorded' belongs in a file of recorded rows (top-level "
                "'recorded:', written by authprobe rows record)")
        return
    if (not isinstance(mark, dict) or set(mark) != {"run", "version"}
            or not all(isinstance(v, str) and v for v in mark.values())):
        bad(where, "a recorded row needs recorded: {run: <run id>, version: <patch>}, as "
            "authprobe rows record writes it; record it again rather than edit it")
    try:
        patch = KubeVersion.parse(mark["version"])
    except AuthprobeError as err:
        bad(where, f"recorded.version: {err}")
    if patch.patch is None:
        bad(where, f"recorded.version '{mark['version']}' must be a patch release")
    if (patch.major, patch.minor) != (since.major, since.minor) or since.patch is not None:
        bad(where, f"a row recorded on {patch} starts at {patch.minor_str}, not {since}; "
            "record it again rather than edit it")


def _check_set_field(ranged: Ranged, name: str, where: str, bad) -> None:
    """Each row's value of a set field has its shape, and the rows compose: none adds an
    item the rows before it give, or removes one they do not."""
    composed = setchanges.Composed()
    for since, row in ranged.rows:
        value = row.get(name) if isinstance(row, dict) else None
        if value is None:
            continue
        wrong = setchanges.check(value)
        if wrong:
            bad(f"{where} since {since}", f"{name} {wrong}")
        composed.apply(value, lambda what, at=since: bad(f"{where} since {at}",
                                                         f"{name} {what}"))


def recorded_from(values: dict) -> dict | None:
    """The run and version a row was recorded from (None: a row from facts)."""
    mark = values.get(RECORDED)
    return mark if isinstance(mark, dict) else None


def _check_row(row: dict, where: str, bad, fields: dict[str, str]) -> None:
    unknown = sorted(set(row) - set(fields))
    if unknown:
        bad(where, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    if "alternatives" in row:
        _check_alternatives(row, where, bad, fields)
    _check_values(row, where, bad)
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


def _check_rules(row: dict, where: str, bad, declarations: Declarations) -> None:
    """The rules the declarations state between row fields (``implied_by``) hold in the row,
    and in the row as each of its alternatives reads."""
    views = [row] + [with_alternative(row, a.name) for a in alternatives_of(row)]
    for view in views:
        broken = predictions.contradictions(declarations, view)
        if broken:
            bad(where, broken[0])


def _check_values(row: dict, where: str, bad) -> None:
    """The prediction fields whose values have a shape of their own."""
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


def _check_alternatives(row: dict, where: str, bad, fields: dict[str, str]) -> None:
    """A row's alternatives: two or more, each a mapping of a name, a note and expectation
    fields the row itself does not give."""
    items = row["alternatives"]
    if not isinstance(items, list) or len(items) < 2:
        bad(where, "alternatives must be a list of two or more outcomes, each {name, note, "
            "fields}")
    predictions = set(fields) - set(META_FIELDS)
    names: set[str] = set()
    for number, item in enumerate(items, 1):
        at = f"{where} alternative {number}"
        if not isinstance(item, dict):
            bad(at, "must be a mapping {name, note, fields}")
        name, note = item.get("name"), item.get("note")
        if not isinstance(name, str) or not name.strip():
            bad(at, "needs a name")
        if name in names:
            bad(at, f"the name '{name}' is given twice")
        names.add(name)
        if not isinstance(note, str) or not note.strip():
            bad(f"{where} alternative '{name}'", "needs a note (why, with the upstream issue)")
        own = set(item) - set(ALTERNATIVE_KEYS)
        unknown = sorted(own - predictions)
        if unknown:
            bad(f"{where} alternative '{name}'",
                f"unknown field(s) {', '.join(unknown)}; an alternative holds the fields "
                f"it predicts: {', '.join(sorted(predictions))}")
        if not own:
            bad(f"{where} alternative '{name}'", "predicts no field")
        deciding = sorted(own & set(OUTCOME_FIELDS))
        if deciding:
            bad(f"{where} alternative '{name}'",
                f"{', '.join(deciding)} decide(s) whether the row is an expected failure: "
                "the row gives it, for every alternative")
        both = sorted(own & set(row))
        if both:
            bad(f"{where} alternative '{name}'",
                f"{', '.join(both)} given by the row too; a field is the row's or its "
                "alternatives'")
        _check_values(item, f"{where} alternative '{name}'", bad)


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
