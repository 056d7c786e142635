"""A set written per minor as its changes: rows composed into what they predict at a
version, a cell matched against that, and the change between two cells judged by exactly
the rows between them."""

from __future__ import annotations

import re

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.model import setchanges
from authprobe.model.expectations import ExpectationTable
from authprobe.model.observations import shipped
from authprobe.model.predictions import disagreement
from authprobe.model.versions import KubeVersion

V = KubeVersion.parse
A, B = "[view] core: pods (get)", "[view] core: pods/log (get)"
C, D = "[edit] apps: x (get)", "[v] d"


def never(what):
    raise AssertionError(what)


def bad_line(what):
    raise AuthprobeError(what)


def test_changes_compose_into_what_is_in_and_what_is_out():
    assert setchanges.compose([None, {"added": [A, B]}, {"removed": [A], "added": [C]}],
                              never) == {"added": sorted([B, C]), "removed": [A]}
    assert setchanges.compose([None, None], never) is None


def test_a_whole_set_then_changes_compose_into_a_whole_set():
    assert setchanges.compose([[A, B], {"removed": [B], "added": [C]}], never) == sorted([A, C])


@pytest.mark.parametrize(("rows", "what"), [
    ([{"added": [A]}, {"added": [A]}], "adds '[view] core: pods (get)', which the rows before"),
    ([{"removed": [A]}, {"removed": [A]}], "removes '[view] core: pods (get)', which the rows "),
    ([[A], {"removed": [B]}], "removes '[view] core: pods/log (get)'"),
])
def test_rows_that_do_not_compose_are_an_error(rows, what):
    with pytest.raises(AuthprobeError, match=re.escape(what)):
        setchanges.compose(rows, bad_line)


@pytest.mark.parametrize(("value", "wrong"), [
    ({"added": [A], "removed": [A]}, "both added and removed"),
    ({"added": A}, "must be lists"),
    ({"kept": [A]}, "whole set"),
    ({}, "whole set"),
    ([A, A], "given twice"),
    ([A, ""], "non-empty strings"),
    ("x", "whole set"),
])
def test_a_value_of_the_wrong_shape_is_named(value, wrong):
    assert wrong in setchanges.check(value)


def test_a_cell_holds_what_is_added_and_nothing_removed():
    predicted = {"added": [A], "removed": [B]}
    assert setchanges.predicts(predicted, [A, C])
    assert not setchanges.predicts(predicted, [C])
    assert not setchanges.predicts(predicted, [A, B])
    assert setchanges.differences(predicted, [B, C]) == ([A], [B])


def test_a_whole_set_is_matched_exactly():
    assert setchanges.predicts([A, B], [B, A])
    assert not setchanges.predicts([A, B], [A, B, C])
    assert not setchanges.predicts([A], "no list")


def test_the_change_between_two_versions_is_the_change_of_their_rows():
    older, newer = {"added": [A], "removed": []}, {"added": [A, C], "removed": [B]}
    assert setchanges.predicted_change(older, newer) == ({C}, {B})
    assert setchanges.change_predicted(older, newer, [A, B, D], [A, C, D])
    # one item more, or one fewer, than the rows say is not the change they predict
    assert not setchanges.change_predicted(older, newer, [A, B, D], [A, C])
    assert not setchanges.change_predicted(older, newer, [A, B], [A, C, D])
    assert not setchanges.change_predicted(older, older, [A], [A, C])
    assert setchanges.predicted_change(None, {"added": [A]}) == ({A}, set())
    assert setchanges.predicted_change([A, B], [A, C]) == ({C}, {B})


ROWS = f"""
scenarios:
  default_roles_served:
    anon-on:
      - since: "1.19"
        note: no rule predicted before
      - since: "1.20"
        role_rules: {{added: ["{A}", "{B}"]}}
      - since: "1.22"
        note: nothing changes
      - since: "1.30"
        role_rules: {{removed: ["{B}"], added: ["{C}"]}}
"""


def lookup(text: str, version: str):
    table = ExpectationTable()
    table.add(yaml.safe_load(text), "test.yaml")
    return table.lookup("anon-on", "default_roles_served", V(version))


@pytest.mark.parametrize(("version", "value"), [
    ("1.19.16", None),
    ("1.20.0", {"added": sorted([A, B]), "removed": []}),
    ("1.24.1", {"added": sorted([A, B]), "removed": []}),
    ("1.31.4", {"added": sorted([A, C]), "removed": [B]}),
])
def test_a_version_is_predicted_what_the_rows_up_to_its_row_compose(version, value):
    assert lookup(ROWS, version).values.get("role_rules") == value


def test_a_file_whose_rows_do_not_compose_names_the_row():
    broken = ROWS.replace(f'removed: ["{B}"]', f'removed: ["{D}", "{B}"]').replace(
        '- since: "1.22"', f'- since: "1.22"\n        role_rules: {{removed: ["{D}"]}}')
    with pytest.raises(AuthprobeError, match=re.escape("since 1.30: role_rules removes '[v] d'")):
        lookup(broken, "1.31")


def test_a_file_with_a_value_of_the_wrong_shape_names_the_row():
    with pytest.raises(AuthprobeError, match=r"since 1\.20: role_rules must be the whole set"):
        lookup(ROWS.replace(f'{{added: ["{A}", "{B}"]}}', '"a text"'), "1.31")


def test_a_cell_that_disagrees_is_told_which_rules():
    declared = shipped()["default_role_rules"]
    row = {"role_rules": {"added": [A, C], "removed": [B]}}
    assert disagreement(declared, row, [A, C, D]) is None
    line = disagreement(declared, row, [A, B])
    assert line == (f"default_role_rules: 1 predicted but not seen: '{C}'; 1 seen but "
                    f"predicted out: '{B}' (row field role_rules)")
