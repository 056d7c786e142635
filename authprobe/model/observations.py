"""What a cell may observe, declared once: each observed field's meaning, the expectation field
that predicts it and how, how two runs' values compare, and how it reads in a message line.

The declarations are data (``scenarios/observations.yaml``, and ``observations:`` in a team's
expectation file). The expectation fields, the diff and the cells' messages are derived
from them, so a new observation is compared by the diff without another list to edit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError
from . import setchanges
from .versions import FACT_NAMES

PART_CHARS = 90  # an apiserver message within a cell's message line

def _any_of(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """A match where a list of expected values means any of them."""
    def match(row: Any, observed: Any) -> bool:
        if isinstance(row, list):
            return any(test(value, observed) for value in row)
        return test(row, observed)
    return match


def _equal(row: Any, observed: Any) -> bool:
    if isinstance(row, list) and not isinstance(observed, list):
        return observed in row
    return row == observed


def _fragment(row: Any, observed: Any) -> bool:
    lines = observed if isinstance(observed, list) else [observed]
    return any(str(row) in str(line) for line in lines if line is not None)


def _member(row: Any, observed: Any) -> bool:
    if row is None:
        return observed in (None, [])  # null: no value at all
    return isinstance(observed, list) and row in observed


def _present(row: Any, observed: Any) -> bool:
    return bool(row) == (observed not in (None, ""))


def _within(row: Any, observed: Any) -> bool:
    low, high = row
    return isinstance(observed, (int, float)) and low <= observed <= high


# How an expectation field's value predicts an observed value: (description, test).
MATCHES: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "equal": ("the expected value (a list: any of them)", _equal),
    "fragment": ("a text expected in (a list: any of them)", _any_of(_fragment)),
    "member": ("a value expected among (null: none at all; a list: any of them)",
               _any_of(_member)),
    "present": ("whether there is", _present),
    "within": ("[low, high], the range expected of", _within),
    setchanges.MATCH: ("the set expected (a list), or the items a minor adds and removes "
                       "({added, removed}, composed with the rows before) of",
                       setchanges.predicts),
}
COMPARES = ("exact", "set", "within")
KEYS = {"meaning", "expect", "match", "compare", "tolerance", "line", "line_when", "follows",
        "implied_by"}


@dataclass(frozen=True)
class Implied:
    """A rule between two row fields: which values of the declared field go with each value
    of another field of the same row (``field``). A row that does not give the declared
    field predicts, from its ``field``, the first value that goes with it."""

    field: str
    values: Mapping[str, tuple]  # a value of `field` as a JSON literal -> the values it goes with
    otherwise: tuple = ()  # what goes with any other value of `field`

    def goes_with(self, other: Any) -> tuple:
        """The values of the declared field that go with ``other`` (a list: any of them)."""
        found: list = []
        for value in other if isinstance(other, list) else [other]:
            for item in self.values.get(json.dumps(value), self.otherwise):
                if item not in found:
                    found.append(item)
        return tuple(found)

    def first(self, other: Any) -> Any:
        """What a row that gives ``other`` and not the declared field predicts of it (a
        list of ``other``: any of their first values)."""
        firsts: list = []
        for value in other if isinstance(other, list) else [other]:
            allowed = self.values.get(json.dumps(value), self.otherwise)
            if allowed and allowed[0] not in firsts:
                firsts.append(allowed[0])
        return firsts[0] if len(firsts) == 1 else firsts

    def to_dict(self) -> dict:
        return {"field": self.field, "values": {k: list(v) for k, v in self.values.items()},
                "otherwise": list(self.otherwise)}


def _implied(spec: Any, bad: Callable[[str], None]) -> Implied | None:
    """An ``implied_by`` declaration, checked."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) - {"field", "values", "otherwise"} or not str(
            spec.get("field") or "").strip():
        bad("implied_by takes field (a row field), values (a mapping of that field's values "
            "to lists of this one's) and otherwise (a list)")
    values = spec.get("values") or {}
    otherwise = spec.get("otherwise") or []
    if not isinstance(values, dict) or not all(isinstance(v, list) and v
                                               for v in values.values()):
        bad("implied_by.values must map each value of the other field to a non-empty list")
    if not isinstance(otherwise, list):
        bad("implied_by.otherwise must be a list")
    return Implied(str(spec["field"]), {str(k): tuple(v) for k, v in values.items()},
                   tuple(otherwise))


@dataclass(frozen=True)
class Observation:
    name: str
    meaning: str
    expect: str | None = None
    match: str = "equal"
    compare: str = "exact"
    tolerance: float = 0.0  # compare: within: the least difference that counts (seconds, ...)
    # compare: within: the share of the measured value a difference must exceed as well (a
    # timing's tolerance grows with what it measures; ``tolerance`` is its floor)
    relative: float = 0.0
    line: str | None = None
    line_when: Mapping[str, str] = field(default_factory=dict)
    # A numeric version fact (clusters/versions.yaml) the harness adds to this value: between
    # two versions the value is predicted to move by the fact's difference.
    follows: str | None = None
    # Another row field that implies this one's prediction where a row does not give it.
    implied_by: Implied | None = None
    source: str = ""

    def predicts(self, row_value: Any, observed: Any) -> bool:
        """Whether a row's value of the ``expect`` field predicts this observed value."""
        return MATCHES[self.match][1](row_value, observed)

    def differs(self, before: Any, after: Any) -> bool:
        """Whether two runs' values of this observation differ, as it is compared."""
        if self.compare == "set" and isinstance(before, list) and isinstance(after, list):
            return sorted(map(json.dumps, before)) != sorted(map(json.dumps, after))
        if (self.compare == "within" and isinstance(before, (int, float))
                and isinstance(after, (int, float))):
            return abs(after - before) > self.allowed_difference(before, after)
        return before != after

    def allowed_difference(self, before: float, after: float) -> float:
        """How far two values of a ``within`` comparison may lie apart and still be the same:
        the ``relative`` share of the smaller of the two, at least the absolute
        ``tolerance``."""
        return max(self.tolerance, self.relative * min(abs(before), abs(after)))

    def reads(self, value: Any) -> str | None:
        """How a value reads in a cell's message line (None: not shown)."""
        literal = json.dumps(value)
        if literal in self.line_when:
            return self.line_when[literal]
        if self.line is None or value in (None, "", []):
            return None
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        lines = value if isinstance(value, list) else text.strip().splitlines() or [text]
        last = lines[-1]
        items = ", ".join(str(item) for item in lines)
        try:
            return self.line.format(value=value, last=" ".join(str(last).split()),
                                    short=_short(text), items=items, count=len(lines))
        except (ValueError, TypeError):  # a format spec the value does not take
            return self.line.format(value=text, last=text, short=_short(text), items=items,
                                    count=len(lines))


def _tolerance(value: Any, bad: Callable[[str], None]) -> tuple[float, float]:
    """(absolute floor, relative share) of a declared tolerance: a number (the least
    difference that counts), or ``{relative: <share of the value>, floor: <number>}``."""
    if isinstance(value, bool):
        bad("must be a number or {relative: <share>, floor: <number>}")
    if isinstance(value, (int, float)):
        if value < 0:
            bad("must not be negative")
        return float(value), 0.0
    if not isinstance(value, dict) or set(value) != {"relative", "floor"} or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
            for v in value.values()):
        bad("must be a number or {relative: <share>, floor: <number>}, both not negative")
    if value["relative"] >= 1:
        bad("relative is a share of the value: below 1 (0.2 for 20 %)")
    return float(value["floor"]), float(value["relative"])


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PART_CHARS else text[: PART_CHARS - 1] + "…"


class Declarations:
    """The declared observations, in declaration order."""

    def __init__(self, items: Iterable[Observation] = ()) -> None:
        self.by_name: dict[str, Observation] = {}
        for item in items:
            self.by_name[item.name] = item

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __iter__(self):
        return iter(self.by_name.values())

    def __getitem__(self, name: str) -> Observation:
        return self.by_name[name]

    def get(self, name: str) -> Observation | None:
        return self.by_name.get(name)

    def add(self, data: Any, source: str) -> None:
        """Add the ``observations`` mapping of a file; a name may be declared once."""
        def bad(where: str, what: str) -> None:
            raise AuthprobeError(f"malformed observation declarations in {source} at "
                                 f"observations.{where}: {what}")

        if not isinstance(data, dict):
            raise AuthprobeError(f"malformed observation declarations in {source}: "
                                 "'observations' must map field names to declarations")
        for name, spec in data.items():
            name = str(name)
            if not isinstance(spec, dict):
                bad(name, "must be a mapping with at least 'meaning'")
            unknown = sorted(set(spec) - KEYS)
            if unknown:
                bad(name, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}")
            if not str(spec.get("meaning") or "").strip():
                bad(name, "needs a meaning")
            if spec.get("match", "equal") not in MATCHES:
                bad(name, f"match must be one of {', '.join(MATCHES)}")
            if spec.get("compare", "exact") not in COMPARES:
                bad(name, f"compare must be one of {', '.join(COMPARES)}")
            if (spec.get("compare") == "within") != ("tolerance" in spec):
                bad(name, "compare: within goes with a tolerance, and only with it")
            floor, relative = _tolerance(spec.get("tolerance", 0.0), lambda what, name=name: bad(
                name, f"tolerance {what}"))
            if "match" in spec and not spec.get("expect"):
                bad(name, "a match needs the expectation field it reads ('expect')")
            when = spec.get("line_when") or {}
            if not isinstance(when, dict):
                bad(name, "line_when must map JSON literals to texts")
            follows = spec.get("follows")
            if follows is not None and follows not in FACT_NAMES:
                bad(name, f"follows must name a version fact: {', '.join(FACT_NAMES)}")
            implied = _implied(spec.get("implied_by"), lambda what, n=name: bad(n, what))
            if implied is not None and implied.field == spec.get("expect"):
                bad(name, "implied_by names another row field than 'expect'")
            if implied is not None and not spec.get("expect"):
                bad(name, "implied_by needs the row field it implies ('expect')")
            if name in self.by_name:
                bad(name, f"already declared in {self.by_name[name].source}; an observed "
                          "field is declared once")
            self.by_name[name] = Observation(
                name=name, meaning=" ".join(str(spec["meaning"]).split()),
                expect=spec.get("expect"), match=spec.get("match", "equal"),
                compare=spec.get("compare", "exact"),
                tolerance=floor, relative=relative, line=spec.get("line"),
                line_when={str(k): str(v) for k, v in when.items()}, follows=follows,
                implied_by=implied, source=source)

    def predicting(self, expectation_field: str) -> list[Observation]:
        return [o for o in self if o.expect == expectation_field]

    def expectation_fields(self) -> dict[str, str]:
        """Each expectation field the declarations name, with what it predicts."""
        fields: dict[str, str] = {}
        for item in self:
            if item.expect:
                what = f"{MATCHES[item.match][0]} {item.name} ({item.meaning})"
                fields[item.expect] = (f"{fields[item.expect]}; {what}"
                                       if item.expect in fields else what)
        for item in self:
            implied = item.implied_by
            if implied is not None and implied.field in fields:
                fields[implied.field] += (
                    f"; where the row gives no {item.expect}, the first {item.expect} that "
                    f"goes with it: " + ", ".join(
                        f"{k}: {' or '.join(map(json.dumps, v))}"
                        for k, v in implied.values.items())
                    + f", else {' or '.join(map(json.dumps, implied.otherwise))}")
        return fields

    def check_name(self, name: str) -> None:
        if name not in self.by_name:
            raise AuthprobeError(
                f"observed field '{name}' is not declared: declare it under 'observations' in "
                "scenarios/observations.yaml (or in your expectation file) with its meaning, "
                "the expectation field that predicts it and how it compares")

    def to_dict(self) -> dict[str, dict]:
        return {o.name: {"meaning": o.meaning, "expect": o.expect, "match": o.match,
                         "compare": o.compare, "tolerance": o.tolerance,
                         **({"implied_by": o.implied_by.to_dict()} if o.implied_by else {}),
                         **({"relative": o.relative} if o.relative else {})}
                for o in self}


def shipped_path() -> Path:
    from ..paths import scenarios_dir
    return scenarios_dir() / "observations.yaml"


def read_file(path: Path) -> Any:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise AuthprobeError(f"cannot read observation declarations {path}: {err.strerror}"
                             ) from None
    except yaml.YAMLError as err:
        raise AuthprobeError(f"observation declarations {path} are not valid YAML: "
                             f"{getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict) or set(data) != {"observations"}:
        raise AuthprobeError(f"malformed observation declarations in {path}: the top level "
                             "must be a mapping with only an 'observations' key")
    return data["observations"]


@cache
def shipped() -> Declarations:
    """The declarations authprobe ships (scenarios/observations.yaml)."""
    path = shipped_path()
    declarations = Declarations()
    declarations.add(read_file(path), str(path))
    return declarations


def _malformed_in_report(what: str) -> None:
    raise AuthprobeError(f"an observation declared in the report is malformed: {what}")


def from_document(data: Mapping[str, dict] | None) -> Declarations:
    """The shipped declarations, and those an outcomes document recorded that are not shipped
    (a team's own observations), so a report is compared as it was declared."""
    declarations = Declarations(shipped())
    for name, spec in (data or {}).items():
        if name in declarations:
            continue
        compare = spec.get("compare", "exact")
        declarations.by_name[name] = Observation(
            name=name, meaning=str(spec.get("meaning", "")), expect=spec.get("expect"),
            match=spec.get("match") if spec.get("match") in MATCHES else "equal",
            compare=compare if compare in COMPARES else "exact",
            tolerance=float(spec.get("tolerance") or 0.0),
            implied_by=_implied(spec.get("implied_by"), _malformed_in_report),
            relative=float(spec.get("relative") or 0.0), source="the report")
    return declarations
