"""The order scenario items run in: a wave of clusters' items together, the ones marked to
run last after all the others of their wave."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from authprobe.model.cell import Cell
from authprobe.plugin.planning import CELL_FIXTURE, LAST_MARKER, last_in_waves


class Item:
    def __init__(self, cell: Cell, name: str, last: bool = False) -> None:
        self.callspec = SimpleNamespace(params={CELL_FIXTURE: cell})
        self.name = f"test_{name}[{cell.id}]"
        self.last = last

    def get_closest_marker(self, name):
        return pytest.mark.runs_last.mark if name == LAST_MARKER and self.last else None

    def __repr__(self) -> str:
        return self.name


A, B, C, NA = (Cell(p, "1.34") for p in ("a", "b", "c", "na"))


def items_of(cell):
    return [Item(cell, "one"), Item(cell, "two"), Item(cell, "window", last=True),
            Item(cell, "three")]


def names(items):
    return [i.name for i in items]


def test_one_wave_runs_every_cells_others_first_then_the_last_ones():
    items = items_of(A) + items_of(B) + items_of(C)
    ordered = last_in_waves(items, [A, B, C], wave=5)
    assert names(ordered) == [
        "test_one[a-1.34]", "test_two[a-1.34]", "test_three[a-1.34]",
        "test_one[b-1.34]", "test_two[b-1.34]", "test_three[b-1.34]",
        "test_one[c-1.34]", "test_two[c-1.34]", "test_three[c-1.34]",
        "test_window[a-1.34]", "test_window[b-1.34]", "test_window[c-1.34]"]


def test_waves_are_as_many_clusters_as_the_host_holds_at_once():
    items = items_of(A) + items_of(B) + items_of(C)
    ordered = last_in_waves(items, [A, B, C], wave=2)
    assert names(ordered)[:8] == [
        "test_one[a-1.34]", "test_two[a-1.34]", "test_three[a-1.34]",
        "test_one[b-1.34]", "test_two[b-1.34]", "test_three[b-1.34]",
        "test_window[a-1.34]", "test_window[b-1.34]"]
    assert names(ordered)[8:] == ["test_one[c-1.34]", "test_two[c-1.34]",
                                  "test_three[c-1.34]", "test_window[c-1.34]"]


def test_items_of_cells_that_run_nothing_come_first_in_their_order():
    items = items_of(A) + items_of(NA)
    ordered = last_in_waves(items, [A], wave=8)
    assert names(ordered)[:4] == names(items_of(NA))
    assert names(ordered)[4:] == ["test_one[a-1.34]", "test_two[a-1.34]",
                                  "test_three[a-1.34]", "test_window[a-1.34]"]
