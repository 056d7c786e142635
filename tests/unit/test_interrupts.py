"""An interrupt met while the main thread ends a cluster goes on once that end is done; at
any other point, and in any other thread, it is raised at once."""

from __future__ import annotations

import threading

import pytest

from authprobe.harness import interrupts


class Stop(KeyboardInterrupt):
    pass


def test_an_interrupt_outside_an_end_is_raised_at_once():
    with pytest.raises(Stop):
        interrupts.deliver(Stop())


def test_an_interrupt_inside_an_end_is_raised_once_the_end_is_done():
    done = []
    with pytest.raises(Stop):
        with interrupts.held():
            interrupts.deliver(Stop())
            done.append("the rest of the end")
    assert done == ["the rest of the end"]
    with pytest.raises(Stop):  # once the end is done, an interrupt is raised at once again
        interrupts.deliver(Stop())


def test_in_nested_ends_it_is_raised_after_the_outermost_and_only_the_first_is_kept():
    done = []
    first, second = Stop("first"), Stop("second")
    with pytest.raises(Stop) as raised:
        with interrupts.held():
            with interrupts.held():
                interrupts.deliver(first)
                done.append("inner")
            done.append("outer")
            interrupts.deliver(second)
    assert raised.value is first and done == ["inner", "outer"]


def test_an_end_that_raises_its_own_error_gives_way_to_the_interrupt():
    with pytest.raises(Stop) as raised:
        with interrupts.held():
            interrupts.deliver(Stop())
            raise OSError("engine gone")
    assert isinstance(raised.value.__context__, OSError)


def test_a_worker_threads_end_holds_nothing_back():
    seen: dict = {}

    def worker() -> None:
        with interrupts.held():
            try:
                interrupts.deliver(Stop())
                seen["went on"] = True
            except Stop:
                seen["raised at once"] = True

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert seen == {"raised at once": True}
