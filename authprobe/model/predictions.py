"""What a row predicts of a cell's observations, and where a cell or a row disagrees, as the
declarations say (``scenarios/observations.yaml``): every observed field whose declaration
names a row field is judged by that field of the cell's row (or, where the row does not give
it, by the row field that implies it), and the rules between row fields hold in every row.

The plugin judges each cell that passed by these; the diff judges a field that comes or goes
with its cell's outcome by them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import setchanges
from .observations import Declarations, Observation
from .summary import one_line

VALUE_CHARS = 80


class _NotPredicted:
    def __repr__(self) -> str:
        return "NOT_PREDICTED"


NOT_PREDICTED: Any = _NotPredicted()  # the row says nothing of the observation


def prediction(declared: Observation, row: Mapping[str, Any]) -> Any:
    """The row's prediction of one observation: its value of the declared row field; where
    the row does not give it, what the row field the declaration names in ``implied_by``
    implies; ``NOT_PREDICTED`` when the row gives neither."""
    if not declared.expect:
        return NOT_PREDICTED
    if declared.expect in row:
        return row[declared.expect]
    implied = declared.implied_by
    if implied is not None and implied.field in row:
        return implied.first(row[implied.field])
    return NOT_PREDICTED


def _literal(value: Any) -> str:
    return one_line(json.dumps(value, sort_keys=True), VALUE_CHARS)


def worded(declared: Observation, predicted: Any) -> str:
    """A prediction as a message says it."""
    if declared.match == "within":
        return f"within {_literal(predicted)}"
    if declared.match == "present":
        return "a value" if predicted else "none"
    values = predicted if isinstance(predicted, list) else [predicted]
    if declared.match == "member":
        each = ["none" if v is None else f"{_literal(v)} among them" for v in values]
    elif declared.match == "fragment":
        each = [f"a text holding {_literal(v)}" for v in values]
    else:
        each = [_literal(v) for v in values]
    return each[0] if len(each) == 1 else "any of " + ", ".join(each)


def _source(declared: Observation, row: Mapping[str, Any]) -> str:
    """Which row field a prediction comes from, as a message says it."""
    if declared.expect in row:
        return f"row field {declared.expect}"
    implied = declared.implied_by
    return f"from {implied.field} {_literal(row[implied.field])}" if implied else ""


def disagreement(declared: Observation, row: Mapping[str, Any], observed: Any) -> str | None:
    """One line naming the field, what the row predicts and what was seen, when the row
    predicts this observation otherwise; None when it agrees or predicts nothing."""
    predicted = prediction(declared, row)
    if predicted is NOT_PREDICTED or declared.predicts(predicted, observed):
        return None
    if declared.match == setchanges.MATCH:  # a set: which items, not the whole of it
        return (f"{declared.name}: {setchanges.worded(predicted, observed)} "
                f"({_source(declared, row)})")
    return (f"{declared.name}: predicted {worded(declared, predicted)} "
            f"({_source(declared, row)}), seen {_literal(observed)}")


def disagreements(declarations: Declarations, row: Mapping[str, Any],
                  observed: Mapping[str, Any]) -> list[str]:
    """One line per recorded observation the row predicts otherwise, in declaration order."""
    found = []
    for declared in declarations:
        if declared.name in observed:
            line = disagreement(declared, row, observed[declared.name])
            if line:
                found.append(line)
    return found


def prediction_fields(declarations: Declarations, row: Mapping[str, Any]) -> list[str]:
    """The fields of a row that predict an observation (not its meta fields)."""
    named = {d.expect for d in declarations if d.expect}
    return [name for name in row if name in named]


def unrecorded(declarations: Declarations, row: Mapping[str, Any],
               observed: Mapping[str, Any]) -> list[str]:
    """One line per row field that predicts observations none of which the cell recorded: a
    prediction no scenario checked."""
    found = []
    for name in prediction_fields(declarations, row):
        names = [d.name for d in declarations.predicting(name)]
        if not any(n in observed for n in names):
            found.append(f"the row predicts {name} ({_literal(row[name])}), but the scenario "
                         f"recorded no {' or '.join(names)}")
    return found


def contradictions(declarations: Declarations, row: Mapping[str, Any]) -> list[str]:
    """One line per rule between row fields (``implied_by``) that the row breaks: a value of
    the declared field that does not go with the row's value of the other field."""
    found = []
    for declared in declarations:
        implied = declared.implied_by
        if implied is None or declared.expect not in row or implied.field not in row:
            continue
        given = row[declared.expect]
        allowed = implied.goes_with(row[implied.field])
        for value in given if isinstance(given, list) else [given]:
            if value not in allowed:
                found.append(
                    f"{declared.expect} {_literal(value)} does not go with {implied.field} "
                    f"{_literal(row[implied.field])} (it goes with "
                    f"{', '.join(map(_literal, allowed)) or 'nothing'}), as the declaration "
                    f"of {declared.name} says")
    return found
