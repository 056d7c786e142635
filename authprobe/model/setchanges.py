"""A row field that predicts a set (observation declared ``match: changes``), written per
minor as what that minor changes.

A row gives the field either as the whole set (a list), or as the changes against what the
rows before it give: ``{added: [...], removed: [...]}``, the items the row's minor adds and
removes. The rows of a scenario and profile are composed up to a version's row, in ``since``
order, into what they predict there: the whole set, where some row gave it; else
``{added, removed}`` holding every item the rows so far say is in the set and every item
they say is not. A row that adds an item already in, or removes one already out, is an error
of the file.

A cell matches the composed prediction when its set is the whole set, or holds every item
added and none removed. Between two cells (the diff) the change of the set is explained
only when it is exactly the change the rows between their versions predict: the items
added and removed are the same, none more and none fewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MATCH = "changes"
KEYS = ("added", "removed")
SHOWN = 5  # items a line names before it counts the rest


def fields(declarations: Iterable) -> list[str]:
    """The row fields the declarations say predict a set this way."""
    return sorted({o.expect for o in declarations if o.expect and o.match == MATCH})


def check(value: Any) -> str | None:
    """What is wrong with a row's value of such a field (None: nothing)."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict) and value and not set(value) - set(KEYS):
        if not all(isinstance(value.get(k, []), list) for k in KEYS):
            return "added and removed must be lists"
        items = [*value.get("added", []), *value.get("removed", [])]
        both = sorted(set(value.get("added", [])) & set(value.get("removed", [])))
        if both:
            return f"'{both[0]}' is both added and removed"
    else:
        return ("must be the whole set (a list) or the changes against the rows before: "
                "{added: [...], removed: [...]}")
    if not all(isinstance(item, str) and item for item in items):
        return "its items must be non-empty strings"
    if len(set(items)) != len(items):
        return "an item is given twice"
    return None


@dataclass
class Composed:
    """What rows predict of a set: the items in it and those not; ``whole`` when a row gave
    the whole set (every other item is not in it)."""

    inside: set[str] = field(default_factory=set)
    outside: set[str] = field(default_factory=set)
    whole: bool = False

    def apply(self, value: Any, bad: Callable[[str], None]) -> None:
        """Take one row's value (None: the row does not give the field)."""
        if value is None:
            return
        if isinstance(value, list):
            self.inside, self.outside, self.whole = set(value), set(), True
            return
        for item in value.get("added", []):
            if item in self.inside:
                bad(f"adds '{item}', which the rows before give already")
            self.inside.add(item)
            self.outside.discard(item)
        for item in value.get("removed", []):
            if item in self.outside or (self.whole and item not in self.inside):
                bad(f"removes '{item}', which the rows before do not give")
            self.inside.discard(item)
            self.outside.add(item)

    def value(self) -> Any:
        """The composed prediction as a row value."""
        if self.whole:
            return sorted(self.inside)
        return {"added": sorted(self.inside), "removed": sorted(self.outside)}

    @classmethod
    def of(cls, value: Any) -> Composed:
        """A composed prediction read back from a row value (None: nothing predicted)."""
        found = cls()
        if isinstance(value, list):
            found.inside, found.whole = set(value), True
        elif isinstance(value, dict):
            found.inside = set(value.get("added", []))
            found.outside = set(value.get("removed", []))
        return found


def compose(values: Iterable[Any], bad: Callable[[str], None]) -> Any:
    """The prediction of rows' values (in ``since`` order; None where a row does not give
    the field); None when none gives it."""
    composed, given = Composed(), False
    for value in values:
        composed.apply(value, bad)
        given = given or value is not None
    return composed.value() if given else None


def with_composed(row: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
                  names: Iterable[str]) -> dict:
    """``row``'s values with each set field of ``names`` as ``rows`` compose it (the rows of
    its scenario and profile up to ``row``, in ``since`` order). Their file was checked when
    it was read, so rows that do not compose say nothing here."""
    values = dict(row)
    rows = list(rows)
    for name in names:
        composed = compose((earlier.get(name) for earlier in rows), lambda what: None)
        if composed is not None:
            values[name] = composed
    return values


def predicts(row: Any, observed: Any) -> bool:
    """Whether a composed prediction holds for an observed set."""
    if not isinstance(observed, list):
        return False
    missing, unexpected = differences(row, observed)
    return not missing and not unexpected


def differences(row: Any, observed: list) -> tuple[list[str], list[str]]:
    """(items predicted in the set but not observed, items observed but predicted out)."""
    predicted, seen = Composed.of(row), set(observed)
    missing = sorted(predicted.inside - seen)
    unexpected = sorted(seen - predicted.inside if predicted.whole else
                        seen & predicted.outside)
    return missing, unexpected


def predicted_change(before: Any, after: Any) -> tuple[set[str], set[str]]:
    """(items added, items removed) between two versions, as their composed predictions say
    (None: the rows give nothing there, so predict no change of their own)."""
    old, new = Composed.of(before), Composed.of(after)
    added = new.inside - old.inside
    removed = (old.inside - new.inside) if new.whole else (new.outside - old.outside)
    return added, removed


def observed_change(before: list, after: list) -> tuple[set[str], set[str]]:
    return set(after) - set(before), set(before) - set(after)


def change_predicted(before_row: Any, after_row: Any, before: Any, after: Any) -> bool:
    """Whether two observed sets differ by exactly what the rows between them predict."""
    if not (isinstance(before, list) and isinstance(after, list)):
        return False
    return observed_change(before, after) == predicted_change(before_row, after_row)


def _some(items: Iterable[str]) -> str:
    items = sorted(items)
    named = ", ".join(f"'{item}'" for item in items[:SHOWN])
    return named + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def worded(row: Any, observed: Any) -> str:
    """What a cell saw against the prediction, in one line."""
    if not isinstance(observed, list):
        return f"no set seen ({observed!r})"
    missing, unexpected = differences(row, observed)
    parts = []
    if missing:
        parts.append(f"{len(missing)} predicted but not seen: {_some(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} seen but predicted out: {_some(unexpected)}")
    return "; ".join(parts) or "as predicted"
