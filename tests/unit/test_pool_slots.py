"""The cluster pool's slots: a fixed number of clusters at a time, in the order the
scenarios need them, and none taken once the run is ending."""

import pytest

from authprobe.errors import AuthprobeError
from authprobe.harness.pool import ClusterPool
from authprobe.model.cell import Cell

A, B, C = Cell("anon-on", "1.34"), Cell("anon-off", "1.34"), Cell("anon-on", "1.35")


def pool(max_alive: int) -> ClusterPool:
    made = ClusterPool(env=None, targets={}, profiles={}, expects_down=None, run_token="t",
                       checkout=".", reuse=False, keep=False, max_alive=max_alive)
    made._order.extend([A, B, C])
    return made


def test_slots_are_taken_in_order_up_to_the_limit():
    p = pool(2)
    p._take_slot(A)
    p._take_slot(B)
    assert p._holding == {A, B}
    p._give_slot(A)
    p._take_slot(C)
    assert p._holding == {B, C}


def test_no_slot_once_the_run_is_ending_even_with_slots_free():
    p = pool(3)
    p._take_slot(A)
    p.aborting.set()
    with pytest.raises(AuthprobeError, match="run ended before this cluster was needed"):
        p._take_slot(B)
    assert p._holding == {A}
    assert B in p._served  # the cells after it are not kept waiting for it
